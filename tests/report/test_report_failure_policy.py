"""The failure policy each page and table states follows the metric in use, and the
published rows are marked as computed with the authors' uncorrected evaluator."""

from __future__ import annotations

import pytest

from perrecbench import LEVELS, METHODS
from perrecbench.records import ScoreRow
from perrecbench.report.leaderboard import build_leaderboard
from perrecbench.report.page_data import leaderboard_data, reference_data
from perrecbench.report.reference import load_reference
from perrecbench.report.sections import reference as reference_section
from perrecbench.score.metric_table import failure_policy
from perrecbench.terminal.board_text import to_markdown


def _rows(metric: str) -> list[ScoreRow]:
    return [ScoreRow(model="m", method=m, level=lv, metric=metric, score=0.1, ci_low=0.0, ci_high=0.2,
                     n_questions=10, n_failed=1, n_missing=0, n_scored=9, failure_policy="failed=skipped",
                     run="runs/m")
            for lv in LEVELS for m in METHODS]


@pytest.mark.parametrize("metric,page,board", [
    ("tau-b", "a failed or missing answer scores 0", "failed or missing answer = 0"),
    ("official-v1", "failed groups skipped (released evaluator)", "failed groups skipped"),
    ("official-v2", "failed groups skipped (authors' corrected evaluator)", "failed groups skipped"),
])
def test_policy_follows_the_metric(metric, page, board):
    assert failure_policy(metric) == page
    assert leaderboard_data(_rows(metric), metric).policy == page
    assert build_leaderboard(_rows(metric), metric).notes[0] == f"ours: {metric}, {board}; * = Avg. over fewer " \
                                                               "than 9 cells"


def test_published_rows_say_they_need_recomputing():
    text = to_markdown(build_leaderboard(_rows("official-v2"), "official-v2", load_reference()))
    assert "uncorrected evaluator, which the authors ask to recompute" in text
    data = reference_data(leaderboard_data(_rows("official-v2"), "official-v2"), load_reference())
    page = reference_section.render(data, {})
    assert "Uncorrected evaluator" in page and "recomputed" in page
    assert "Not like for like" in page  # ours are official-v2, the published numbers official-v1


@pytest.mark.parametrize("metric,text", [
    ("tau-b", "a refusal, ...) scores 0 and is counted"),
    ("official-v2", "a refusal, ...) is left out of official-v2 (failed groups skipped (authors&#x27; corrected "
                    "evaluator)) and is counted"),
])
def test_failures_section_states_the_metric_policy(metric, text):
    from perrecbench.report.page_data import CostData, RunCost
    from perrecbench.report.sections import costs
    from perrecbench.score.failure_counts import FailureCounts

    run = RunCost(label="m", run="runs/m", method="list", failures=(FailureCounts("easy", 10, 0, {"refusal": 1}),),
                  calls={}, inconsistency={}, costs=None)
    assert text in costs.render(CostData((run,), metric), {})
