"""The leaderboard's data: one row per model, built from score rows (the page draws it;
`terminal.board_text` prints it as a table, Markdown or CSV).

The leaderboard has one row per model and the paper's columns: easy/medium/hard x
point/pair/list, then "Avg." (the mean of the 9 cells; marked with "*" when some cells
are missing, in which case it is the mean of those present). Published rows, when
asked for, appear below ours with source "published".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..constants import LEVELS, METHODS
from ..records import ScoreRow
from ..score.averages import cell_averages
from ..score.metric_table import TAU_METRICS, skips_failures
from .reference import NOTE, ReferenceRow

COLUMNS = [(lv, m) for lv in LEVELS for m in METHODS]
DETAIL_HEADER = ["model", "variant", "method", "level", "metric", "score", "ci_low", "ci_high",
                 "n_questions", "n_scored", "n_failed", "n_missing", "failure_policy"]  # fmt: skip


def model_label(r: ScoreRow) -> str:
    """The model with its run's variant (profile source, non-default settings), if any."""
    return r.label


@dataclass
class BoardRow:
    label: str
    source: str  # "ours" | "published"
    cells: dict[tuple[str, str], float]
    avg: float | None
    avg_complete: bool
    n_failed: int = 0
    n_missing: int = 0


@dataclass
class Leaderboard:
    metric: str
    rows: list[BoardRow]
    notes: list[str] = field(default_factory=list)


def row_labels(rows: Sequence[ScoreRow]) -> dict[str, str]:
    """Run path -> row label: the model name with its variant. Runs of one benchmark are
    one per cell already (`score.runs.one_run_per_cell`); should two runs of one label
    still fill the same cell (other benchmarks), the label adds the run's folder: the
    folder of its methods' runs (`runs/ml/cf` of `runs/ml/cf/list`), so a model's methods
    stay one row."""
    owner: dict[tuple[str, str, str], set[str]] = {}
    for r in rows:
        owner.setdefault((model_label(r), r.level, r.method), set()).add(r.run)
    clashing = {label for (label, _, _), runs in owner.items() if len(runs) > 1}
    return {r.run: f"{model_label(r)} ({_folder(r)})" if model_label(r) in clashing else model_label(r)
            for r in rows}


def _folder(r: ScoreRow) -> str:
    path = Path(r.run)
    return path.parent.name if path.name == r.method and path.parent.name else path.name


def build_leaderboard(
    rows: Sequence[ScoreRow],
    metric: str | None = None,
    reference: Sequence[ReferenceRow] | None = None,
) -> Leaderboard:
    """Collect the tau cells of `rows` into model rows, best "Avg." first."""
    metric = metric or next((r.metric for r in rows if r.metric in TAU_METRICS), "tau-b")
    labels = row_labels(rows)
    board: dict[str, BoardRow] = {}
    for r in rows:
        if r.metric != metric:
            continue
        br = board.setdefault(labels[r.run], BoardRow(labels[r.run], "ours", {}, None, False))
        if not math.isnan(r.score):
            br.cells[(r.level, r.method)] = r.score
        br.n_failed += r.n_failed
        br.n_missing += r.n_missing
    for avg in cell_averages(
        [r for r in rows if r.metric == metric], metric, label=lambda r: labels[r.run]
    ):
        board[avg.model].avg = avg.score
        board[avg.model].avg_complete = avg.complete
    ours = sorted(board.values(), key=lambda b: -(b.avg if b.avg is not None else -math.inf))
    policy = "failed groups skipped" if skips_failures(metric) else "failed or missing answer = 0"
    notes = [f"ours: {metric}, {policy}; * = Avg. over fewer than 9 cells"]
    published = []
    if reference:
        notes.append(NOTE)
        published = [
            BoardRow(ref.model, "published", dict(ref.cells), ref.avg, True) for ref in reference
        ]
    return Leaderboard(metric, ours + published, notes)
