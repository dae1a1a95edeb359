"""The published table (`--reference`): the paper's 19 models beside ours."""

from __future__ import annotations

from collections.abc import Mapping

from ...constants import LEVELS, METHODS
from .. import colors, figures
from .. import formatting as fmt
from ..html import attrs, esc, label_cell, score_cell, table
from ..page_data import ReferenceData, cell_key, leaderboard_data, reference_data
from ..reference import ReferenceRow
from ..section import FigureSpec, Progress, ReportInputs, Section
from .leaderboard import avg_cell, board_head

#: the authors' correction of their evaluator, said wherever the published rows are shown
RECOMPUTE = ('<p class="note"><b>Uncorrected evaluator:</b> the published rows were computed with the '
             "released evaluator, which compares the id lists themselves; the authors have since corrected "
             "it (tau between per-user rank vectors, <code>--metric official-v2</code>) and ask that taus "
             "computed with the old one be recomputed. These rows have not been.</p>")


def _published_row(ref: ReferenceRow, limit: float) -> str:
    cells = []
    for lv in LEVELS:
        for m in METHODS:
            v = ref.cells.get((lv, m))
            bg = colors.diverging(v, limit)
            cells.append(f'<td class="heat" style="background:{bg};color:{colors.ink(bg)}"'
                         f'{attrs(data_published=ref.model, data_level=lv, data_method=m, data_value=fmt.full(v))}>'
                         f'<span class="v">{fmt.score(v, 2)}</span></td>')
    bg = colors.diverging(ref.avg, limit)
    avg = (f'<td class="heat avg" style="background:{bg};color:{colors.ink(bg)}"'
           f'{attrs(data_published=ref.model, data_level="avg", data_value=fmt.full(ref.avg))}>'
           f'<span class="v">{fmt.score(ref.avg, 2)}</span></td>')
    return f'<tr class="published">{label_cell(ref.model, "published", "pub")}{"".join(cells)}{avg}</tr>'


def render(data: ReferenceData, figs: Mapping[str, str]) -> str:
    entries = [(r.avg, 1, _published_row(r, data.limit)) for r in data.published]
    for line in data.ours:
        cells = "".join(score_cell(line.cells.get(cell_key(lv, m)), data.limit, ci=False) for lv in LEVELS for m in METHODS)
        row = f'<tr class="ours">{label_cell(line.label, "ours")}{cells}{avg_cell(line, data.limit, ci=False)}</tr>'
        entries.append((line.avg if line.avg is not None else -9.0, 0, row))
    entries.sort(key=lambda e: (-e[0], e[1]))
    means = " · ".join(
        f"{esc(m)} {fmt.score(data.published_method_means[m], 3)} / {fmt.score(data.our_method_means[m])}"
        for m in METHODS)
    caveat = ("" if data.comparable else
              f'<p class="note"><b>Not like for like:</b> ours are {esc(data.metric)}, the published '
              "numbers the released evaluator's id-list tau with failed groups dropped. Run "
              "<code>perrecbench report ... --reference --metric official-v1</code> to score ours "
              "the published way.</p>")
    left_out = (f" (ours without {esc(', '.join(data.excluded))}: it reads the truth)" if data.excluded else "")
    return (caveat + f'<p class="note">Mean per method over models and levels, published / ours{left_out}: '
            f"{means}. Published numbers have 2 decimals, as printed in the paper.</p>"
            + RECOMPUTE
            + table(board_head(), [e[2] for e in entries], "board reference")
            + figs.get("reference-avg", ""))


def build(inputs: ReportInputs, progress: Progress) -> Section | None:
    if not inputs.reference:
        return None
    data = reference_data(leaderboard_data(inputs.rows, inputs.metric), inputs.reference)
    return Section(
        key="reference", title="Beside the paper", data=data, render=render,
        figures=(FigureSpec("reference-avg", "Avg. of every published model (grey) and of ours (blue), "
                            "best first.", figures.reference_bars, data),),
        lead="The published PerRecBench table (Tan et al., 2025) with our rows placed among them.",
    )
