"""The leaderboard and the score rows as terminal text: a rich table rendered to plain
text, Markdown and full-precision CSV (the data is `report.leaderboard`'s)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence

from ..records import ScoreRow
from ..report.leaderboard import COLUMNS, DETAIL_HEADER, BoardRow, Leaderboard, model_label


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
