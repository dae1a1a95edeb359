"""Leaderboard and per-run detail tables: rich (terminal), Markdown and CSV renderings.

The leaderboard has one row per model and the paper's columns: easy/medium/hard x
point/pair/list, then "Avg." (the mean of the 9 cells; marked with "*" when some cells
are missing, in which case it is the mean of those present). Published rows, when
asked for, appear below ours with source "published".
"""

from __future__ import annotations

import csv
import io
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


def _fmt(value: float | None, source: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.2f}" if source == "published" else f"{value:.3f}"


def _avg_text(row: BoardRow) -> str:
    text = _fmt(row.avg, row.source)
    return text if row.avg_complete or row.avg is None else text + "*"


def _header() -> list[str]:
    return ["model", "source", *(f"{lv} {m}" for lv, m in COLUMNS), "Avg."]


def _cells(row: BoardRow) -> list[str]:
    return [
        row.label,
        row.source,
        *(_fmt(row.cells.get(c), row.source) for c in COLUMNS),
        _avg_text(row),
    ]


def to_markdown(board: Leaderboard) -> str:
    return _markdown(_header(), [_cells(r) for r in board.rows], board.notes)


def to_csv(board: Leaderboard) -> str:
    """Full-precision CSV (one column per cell, plus avg and avg_complete)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["model", "source", *(f"{lv}_{m}" for lv, m in COLUMNS), "avg", "avg_complete"])
    for r in board.rows:
        vals = ["" if r.cells.get(c) is None else repr(r.cells[c]) for c in COLUMNS]
        w.writerow([r.label, r.source, *vals, "" if r.avg is None else repr(r.avg), r.avg_complete])
    return buf.getvalue()


def render_table(board: Leaderboard, width: int = 200) -> str:
    """The leaderboard as a rich table, returned as plain text."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"PerRecBench leaderboard ({board.metric})", caption="\n".join(board.notes))
    table.add_column("model")
    table.add_column("source")
    for lv, m in COLUMNS:
        table.add_column(f"{lv}\n{m}", justify="right")
    table.add_column("Avg.", justify="right")
    for r in board.rows:
        # labels are text, not markup: "m [offline profile]" must print as is
        table.add_row(*map(escape, _cells(r)), style="dim" if r.source == "published" else None)
    return render_text(table, width)


# --- per-run detail -----------------------------------------------------------------------


def _detail_cells(r: ScoreRow) -> list[str]:
    def f(x: float) -> str:
        return "-" if math.isnan(x) else f"{x:.3f}"

    return [r.model, r.variant, r.method, r.level, r.metric, f(r.score), f(r.ci_low), f(r.ci_high),
            str(r.n_questions), str(r.n_scored), str(r.n_failed), str(r.n_missing), r.failure_policy]  # fmt: skip


def detail_markdown(rows: Sequence[ScoreRow]) -> str:
    return _markdown(DETAIL_HEADER, [_detail_cells(r) for r in rows], [])


def detail_csv(rows: Sequence[ScoreRow]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*DETAIL_HEADER, "run"])
    for r in rows:
        d = r.to_dict()
        w.writerow(["" if d[k] is None else d[k] for k in DETAIL_HEADER] + [r.run])
    return buf.getvalue()


def render_detail(rows: Sequence[ScoreRow], width: int = 160) -> str:
    """Per-run scores with 95% bootstrap CI, counts and the failure policy."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="PerRecBench scores (95% bootstrap CI)")
    for name in (
        "model",
        "method",
        "level",
        "metric",
        "score",
        "95% CI",
        "n",
        "scored",
        "failed",
        "missing",
        "policy",
    ):
        table.add_column(
            name,
            justify="right" if name in {"score", "n", "scored", "failed", "missing"} else "left",
        )
    for r in rows:
        c = _detail_cells(r)
        table.add_row(*map(escape, [model_label(r), *c[2:6], f"[{c[6]}, {c[7]}]", *c[8:]]))
    return render_text(table, width)


def _markdown(header: list[str], rows: list[list[str]], notes: list[str]) -> str:
    def esc(s: str) -> str:
        return s.replace("|", "\\|")

    lines = [
        "| " + " | ".join(esc(h) for h in header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    if notes:
        lines += [""] + [f"_{n}_" for n in notes]
    return "\n".join(lines) + "\n"


def render_text(renderable: object, width: int) -> str:
    from rich.console import Console

    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None, force_terminal=False).print(renderable)
    return buf.getvalue()
