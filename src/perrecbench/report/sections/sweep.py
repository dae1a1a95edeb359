"""Sweeps (`perrecbench sweep --out SWEEP`): each sweep's table and a line plot per
varied setting. Shown when the report is given a sweep directory (as a path, or with
`--sweep`). The table is the sweep's runs, loaded with the report's inputs, scored by
`score.sweep_table.score_sweep` for the report's metric, seed and resamples: what the
sweep wrote as `sweep-table.json` when made with the same ones.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ...constants import LEVELS, METHODS, RATING
from ...records.sweep import SweepRow, SweepTable
from ...run.sweep import value_text
from ...score.sweep_table import score_sweep
from .. import analysis_figures as af
from .. import formatting as fmt
from ..html import esc, number_cell, table
from ..section import Progress, ReportInputs, Section

RATING_METRICS = (("mae", "MAE"), ("rmse", "RMSE"), ("acc", "accuracy"))


@dataclass(frozen=True)
class SweepEntry:
    path: str
    table: SweepTable
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class SweepData:
    sweeps: tuple[SweepEntry, ...]


def _slug(text: str) -> str:
    """A figure-name part: lowercase letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _prefix(i: int, n: int) -> str:
    return "sweep" if n == 1 else f"sweep{i + 1}"


def _columns(t: SweepTable) -> list[tuple[str, str, str]]:
    """(method, level, metric) columns: each preference method's levels in the table's
    metric, then the rating task's MAE, RMSE and accuracy."""
    have = {(r.method, r.level, r.metric) for r in t.rows}
    cols = [(m, lv, t.metric) for m in METHODS for lv in LEVELS if (m, lv, t.metric) in have]
    cols += [(RATING, lv, metric) for metric, _ in RATING_METRICS for lv in sorted({lv for m, lv, _ in have
                                                                                     if m == RATING})
             if (RATING, lv, metric) in have]
    return cols


def _table(entry: SweepEntry) -> str:
    t = entry.table
    cols = _columns(t)
    cells: dict[str, dict[tuple[str, str, str], SweepRow]] = {}
    settings: dict[str, dict] = {}
    for r in t.rows:
        cells.setdefault(r.cell, {})[(r.method, r.level, r.metric)] = r
        settings.setdefault(r.cell, r.settings)
    methods = list(dict.fromkeys(m for m, _, _ in cols))
    group = ('<tr class="group"><th colspan="' + str(1 + len(t.axes)) + '"></th>'
             + "".join(f'<th colspan="{sum(1 for c in cols if c[0] == m)}">{esc(m)}</th>' for m in methods) + "</tr>")
    head = (group + "<tr><th>cell</th>" + "".join(f'<th class="setting">{esc(a)}</th>' for a in t.axes)
            + "".join(f'<th class="num">{esc(dict(RATING_METRICS).get(metric, lv) if m == RATING else lv)}</th>'
                      for m, lv, metric in cols) + "</tr>")
    rows = []
    for cell, mine in cells.items():
        body = "".join(
            number_cell(c.score, c.ci_low, c.ci_high, f"{c.n_scored} of {c.n_questions} scored",
                        data_sweep=entry.path, data_sw_cell=cell, data_sw_method=m, data_sw_level=lv,
                        data_sw_metric=metric, data_n=c.n_questions)
            if (c := mine.get((m, lv, metric))) else f'<td class="num muted">{fmt.DASH}</td>'
            for m, lv, metric in cols)
        shown = "".join(f'<td class="setting">{esc(value_text(settings[cell].get(a)))}</td>' for a in t.axes)
        rows.append(f'<tr class="ours"><td class="label">{esc(cell)}</td>{shown}{body}</tr>')
    base = ", ".join(f"{a}={value_text(v)}" for a, v in t.base.items())
    notes = [*t.notes, *entry.warnings]
    return (f"<h3>{esc(t.model)}: {esc(', '.join(t.axes))} <span class=\"muted\">({esc(t.mode)}; base "
            f"{esc(base)}; <code>{esc(entry.path)}</code>)</span></h3>" + table(head, rows, "sweep")
            + (f'<ul class="notes">{"".join(f"<li>{esc(n)}</li>" for n in notes)}</ul>' if notes else ""))


def render(data: SweepData, figs: Mapping[str, str]) -> str:
    parts = []
    for i, entry in enumerate(data.sweeps):
        prefix = _prefix(i, len(data.sweeps))
        parts.append(_table(entry) + "".join(figs.get(f"{prefix}-{_slug(a)}", "") for a in entry.table.axes))
    return ('<p class="note">Every cell of a sweep is a run directory scored like the leaderboard, with '
            "95% bootstrap intervals; the plots follow one setting with the others at their base value. "
            "These are the rows of the sweep's <code>sweep-table.json</code>.</p>" + "".join(parts))


def build(inputs: ReportInputs, progress: Progress) -> Section | None:
    if not inputs.sweeps:
        return None
    entries = []
    for i, sweep in enumerate(inputs.sweeps):
        progress("sweeps", i, len(inputs.sweeps))
        t, warnings = score_sweep(sweep, inputs.metric, inputs.resamples, inputs.seed)
        entries.append(SweepEntry(str(sweep.path), t, tuple(warnings)))
    progress("sweeps", len(inputs.sweeps), len(inputs.sweeps))
    specs = [spec for i, e in enumerate(entries) for spec in af.sweep_specs(e.table, _prefix(i, len(entries)), _slug)]
    return Section(
        key="sweep", title="Sweeps", data=SweepData(tuple(entries)), render=render, figures=tuple(specs),
        lead="One model under a grid of settings (retrieved items, demonstrations, chain-of-thought, ...): "
             "how each setting moves the score.",
    )
