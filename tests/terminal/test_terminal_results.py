"""Results printed in several formats are one object each (`report.results`): the
command asks `render(fmt)`; a format the result does not print is a one-line error."""

from __future__ import annotations

import json
import math

import pytest

from perrecbench.errors import ConfigError
from perrecbench.records import ComparisonRow, ScoreRow
from perrecbench.report.leaderboard import build_leaderboard
from perrecbench.terminal.results import ComparisonResult, LeaderboardResult, ScoreResult


def _row(level: str, method: str, score: float, model: str = "m") -> ScoreRow:
    return ScoreRow(model=model, method=method, level=level, metric="tau-b", score=score, ci_low=score - 0.1,
                    ci_high=score + 0.1, n_questions=10, n_failed=1, n_missing=0, n_scored=9,
                    failure_policy="failed=0", run=f"runs/{model}/{method}")


def _rows() -> list[ScoreRow]:
    return [_row("easy", "list", 0.25), _row("hard", "point", math.nan)]


def test_score_result_prints_each_format():
    result = ScoreResult(_rows())
    data = json.loads(result.render("json"))
    assert [r["score"] for r in data] == [0.25, None] and result.to_json().endswith("]\n")
    assert result.render("csv").splitlines()[0].startswith("model,variant,method,level,metric,score")
    assert result.render("markdown").startswith("| model | variant | method |")
    table = result.render("table")
    assert "PerRecBench scores" in table and "0.250" in table and "leaderboard" not in table


def test_the_board_is_added_to_table_and_markdown_only():
    rows = _rows()
    with_board = ScoreResult(rows, build_leaderboard(rows))
    alone = ScoreResult(rows)
    assert with_board.to_table().startswith(alone.to_table() + "\n")
    assert "PerRecBench leaderboard (tau-b)" in with_board.to_table()
    assert with_board.to_markdown() == alone.to_markdown() + "\n" + LeaderboardResult(build_leaderboard(rows)).to_markdown()


def test_comparison_result():
    row = ComparisonRow(level="easy", metric="tau-b", model_a="m", method_a="list", model_b="m", method_b="list",
                        score_a=0.3, score_b=0.1, diff=0.2, ci_low=0.05, ci_high=0.35, p_value=0.01, n=40,
                        exact_p=False, run_a="runs/a", run_b="runs/b")
    result = ComparisonResult([row])
    assert result.render("csv").splitlines() == [
        "level,metric,A,B,score A,score B,A - B,95% CI,p,n",
        "easy,tau-b,m (list) runs/a,m (list) runs/b,0.300,0.100,+0.200,\"[+0.050, +0.350]\",0.0100 (MC),40"]
    assert json.loads(result.render("json"))[0]["diff"] == 0.2
    assert "| easy | tau-b | m (list) runs/a |" in result.render("markdown")
    assert "Paired comparison" in result.render("table")


@pytest.mark.parametrize("cls,fmt,allowed", [(LeaderboardResult, "json", "table, markdown, csv"),
                                             (ScoreResult, "xml", "table, json, csv, markdown")])
def test_an_unknown_format_is_a_one_line_error(cls, fmt, allowed):
    with pytest.raises(ConfigError, match=f"--format must be one of {allowed}, got '{fmt}'"):
        cls.check_format(fmt)
