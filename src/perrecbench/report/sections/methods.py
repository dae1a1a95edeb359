"""The method comparison: pointwise vs pairwise vs listwise per model, with paired tests."""

from __future__ import annotations

from collections.abc import Mapping

from ...constants import LEVELS, METHODS
from .. import colors, figures
from .. import formatting as fmt
from ..html import attrs, esc, label_cell, score_cell, table
from ..page_data import (
    METHOD_PAIRS,
    MethodComparisonData,
    PairedTest,
    cell_key,
    leaderboard_data,
    method_comparison_data,
)
from ..section import FigureSpec, Progress, ReportInputs, Section


def test_cell(t: PairedTest | None) -> str:
    """A paired difference: A - B, its interval and p; bold when p < 0.05."""
    if t is None:
        return f'<td class="num muted">{fmt.DASH}</td>'
    shown = None if t.diff is None else round(t.diff, 3)  # the colour follows the printed value:
    sign = "" if not shown else ("pos" if shown > 0 else "neg")  # a red "+0.000" would say nothing
    data = attrs(data_compare_a=t.run_a, data_compare_b=t.run_b, data_level=t.level,
                 data_diff=fmt.full(t.diff), data_ci_low=fmt.full(t.ci_low),
                 data_ci_high=fmt.full(t.ci_high), data_p=fmt.full(t.p_value), data_n=t.n)
    kind = "exact" if t.exact_p else "Monte Carlo"
    hover = f"{t.method_a} − {t.method_b} on {t.n} paired questions; p {kind}"
    return (f'<td class="num test {sign}{" sig" if t.significant else ""}" title="{esc(hover)}"{data}>'
            f'<span class="d">{fmt.diff(t.diff)}</span><span class="sub">'
            f'{fmt.signed_interval(t.ci_low, t.ci_high)} · p={fmt.p_value(t.p_value)}</span></td>')


def render(data: MethodComparisonData, figs: Mapping[str, str]) -> str:
    head = ("<tr><th>model</th><th>level</th>"
            + "".join(f'<th class="num"><span class="legend-method" style="background:{colors.METHOD[m]}">'
                      f"</span>{esc(m)}</th>" for m in METHODS)
            + "".join(f'<th class="num">{esc(a)} − {esc(b)}</th>' for a, b in METHOD_PAIRS) + "</tr>")
    rows = []
    for model in data.models:
        tests = {(t.level, t.method_a, t.method_b): t for t in model.tests}
        levels = [lv for lv in LEVELS if any(c.level == lv for c in model.cells.values())]
        for i, lv in enumerate(levels):
            label = label_cell(model.label) if i == 0 else "<td></td>"
            cells = "".join(score_cell(model.cells.get(cell_key(lv, m)), data.limit) for m in METHODS)
            diffs = "".join(test_cell(tests.get((lv, a, b))) for a, b in METHOD_PAIRS)
            rows.append(f'<tr class="ours{" first" if i == 0 else ""}">{label}<td>{esc(lv)}</td>{cells}{diffs}</tr>')
    notes = "".join(f"<li>{esc(n)}</li>" for n in data.notes)
    explain = ('<p class="note">A − B is the mean difference of the two methods\' per-question '
               "scores on the same questions, with its 95% bootstrap interval and a two-sided "
               "sign-flip permutation p-value (exact up to 16 questions, Monte Carlo above); bold: "
               "p &lt; 0.05. These are the rows of <code>perrecbench score A B --compare</code>.</p>")
    return (figs.get("method-comparison", "") + table(head, rows, "methods") + explain
            + (f'<ul class="notes">{notes}</ul>' if notes else ""))


def build(inputs: ReportInputs, progress: Progress) -> Section | None:
    board = leaderboard_data(inputs.rows, inputs.metric)
    data = method_comparison_data(inputs.runs, board, inputs.metric, inputs.seed, inputs.resamples, progress)
    if not data.models:
        return None
    return Section(
        key="methods", title="Methods compared", data=data, render=render,
        figures=(FigureSpec("method-comparison",
                            "Each model's score per method and level, with 95% bootstrap intervals; "
                            "the dashed line is chance.", figures.method_forest, data),),
        lead="Does asking for a comparison (pairwise) or a whole order (listwise) beat predicting "
             "each user's rating (pointwise)? The paper found pair ≈ list > point.",
    )
