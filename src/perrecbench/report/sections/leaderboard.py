"""The leaderboard section: the paper's table (models x 9 cells + Avg.) and its heatmap."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ...constants import LEVELS, METHODS
from .. import colors, figures
from .. import formatting as fmt
from ..html import attrs, cards, esc, label_cell, score_cell, table
from ..page_data import BoardLine, LeaderboardData, cell_key, leaderboard_data
from ..section import FigureSpec, Progress, ReportInputs, Section


def avg_cell(line: BoardLine, limit: float, decimals: int = 3, ci: bool = True) -> str:
    """The Avg. cell; "*" marks an average over fewer than the 9 cells."""
    bg = colors.diverging(line.avg, limit)
    star = "" if line.complete or line.avg is None else "*"
    hover = f"mean of {line.n_cells} cells"
    data = attrs(data_avg=line.label, data_value=fmt.full(line.avg), data_cells=line.n_cells)
    sub = f'<span class="ci">{line.n_cells} cells</span>' if ci else ""
    return (f'<td class="heat avg" style="background:{bg};color:{colors.ink(bg)}" title="{esc(hover)}"'
            f'{data}><span class="v">{fmt.score(line.avg, decimals)}{star}</span>{sub}</td>')


def board_head(first: str = "model") -> str:
    groups = "".join(f'<th colspan="{len(METHODS)}">{esc(lv)}</th>' for lv in LEVELS)
    methods = "".join(f'<th class="num">{esc(m)}</th>' for _ in LEVELS for m in METHODS)
    return (f'<tr class="group"><th></th>{groups}<th></th></tr>'
            f'<tr><th>{esc(first)}</th>{methods}<th class="num">Avg.</th></tr>')


def board_row(line: BoardLine, limit: float) -> str:
    cells = "".join(score_cell(line.cells.get(cell_key(lv, m)), limit) for lv in LEVELS for m in METHODS)
    return f'<tr class="ours">{label_cell(line.label)}{cells}{avg_cell(line, limit)}</tr>'


def _summary(data: LeaderboardData) -> str:
    best = next((line for line in data.lines if line.avg is not None), None)
    any_line = data.lines[0] if data.lines else None
    per_level = []
    if any_line:
        for lv in LEVELS:
            c = next((c for c in any_line.cells.values() if c.level == lv), None)
            if c is not None:
                per_level.append((lv, f"{c.n_questions:,}"))
    failed = sum(c.n_failed + c.n_missing for line in data.lines for c in line.cells.values())
    n_runs = sum(len(line.cells) for line in data.lines)
    items = [
        ("best Avg.", fmt.score(best.avg) if best else fmt.DASH, esc(best.label) if best else "no scores"),
        ("models", f"{len(data.lines):,}", f"{n_runs:,} level × method cells"),
        ("questions", " / ".join(n for _, n in per_level) or fmt.DASH,
         " / ".join(lv for lv, _ in per_level) + ": every model on all of them"),
        ("failed or missing", f"{failed:,}", esc(data.policy)),
    ]
    return cards(items)


def render(data: LeaderboardData, figs: Mapping[str, str]) -> str:
    rows = [board_row(line, data.limit) for line in data.lines]
    note = (f'<p class="note">Each cell: {esc(data.metric)} averaged over the level\'s questions, '
            f"95% bootstrap interval below it ({esc(data.policy)}; hover a cell for its counts). "
            "Avg. is the mean of the cells shown; * marks an Avg. over fewer than 9 cells. "
            f"Colours run from {fmt.score(-data.limit, 2)} (red) through 0 (chance, white) to "
            f"{fmt.score(data.limit, 2)} (blue).</p>")
    kept = "".join(f"<li>{esc(n)}</li>" for n in data.notes)
    return (_summary(data) + table(board_head(), rows, "board") + note
            + (f'<ul class="notes superseded">{kept}</ul>' if kept else "") + figs.get("leaderboard-heatmap", ""))


def build(inputs: ReportInputs, progress: Progress) -> Section | None:
    data = leaderboard_data(inputs.rows, inputs.metric)
    if not data.lines:
        return None
    data = replace(data, notes=tuple(n for run in inputs.runs for n in run.superseded))
    return Section(
        key="leaderboard", title="Leaderboard", data=data, render=render,
        figures=(FigureSpec("leaderboard-heatmap",
                            "The table as a heatmap: rows are models (best Avg. on top), columns "
                            "the level × method cells and their Avg.", figures.heatmap, data),),
        lead="Kendall tau between each group's predicted and true order of relative ratings: "
             "1 is a perfect ranking, 0 is chance. Levels rank 2, 3 or 4 users.",
    )
