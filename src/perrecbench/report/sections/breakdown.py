"""Breakdowns: every run scored on the questions of each group, one table and figure per
`--breakdown` choice (by default the query item's category and exposure, which the
rest of the page does not show; `level` and `method` on request).

Each table is `perrecbench breakdown RUN_DIR... --by BY --format json` for the same
runs, seed and resamples, with its defaults: levels pooled, the 8 largest categories,
4 exposure buckets of the benchmark's own review counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ...constants import METHODS, RATING
from ...errors import ConfigError, PerRecBenchError
from ...records.analysis import BreakdownRow, BreakdownTable
from ...score.breakdown import BY
from ...score.breakdown import breakdown as run_breakdown
from .. import analysis_figures as af
from .. import formatting as fmt
from ..html import esc, label_cell, number_cell, table
from ..section import Progress, ReportInputs, Section

#: what the report breaks runs down by unless told otherwise
DEFAULT = ("category", "exposure")
TITLES = {"category": "By the item's category", "exposure": "By how often the item was rated",
          "level": "By level", "method": "By method, levels pooled"}
_METHOD_RANK = {m: i for i, m in enumerate((*METHODS, RATING))}
_METRIC_RANK = {"mae": 0, "rmse": 1, "acc": 2}


def parse_breakdowns(text: str) -> tuple[str, ...]:
    """`--breakdown category,exposure` (or `none`) -> the choices, in the order given."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    if names == ["none"]:
        return ()
    bad = [n for n in names if n not in BY]
    if bad or not names:
        raise ConfigError(f"--breakdown: {', '.join(bad) or 'nothing'} is not one of {', '.join(BY)} (or none)")
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class BreakdownData:
    tables: tuple[BreakdownTable, ...]
    skipped: tuple[str, ...]  # a breakdown that could not be made, and why


def _groups(t: BreakdownTable) -> list[str]:
    return [g for _, g in sorted({(r.rank, r.group) for r in t.rows})]


def _table(t: BreakdownTable) -> str:
    groups = _groups(t)
    lines: dict[tuple[str, str, str], dict[str, BreakdownRow]] = {}
    for r in sorted(t.rows, key=lambda r: (r.label, _METHOD_RANK.get(r.method, 9), r.method, r.run,
                                         _METRIC_RANK.get(r.metric, -1), r.metric)):
        level = "" if t.by == "level" else r.level
        lines.setdefault((r.run, r.metric, level), {})[r.group] = r
    head = ("<tr><th>model</th><th>method</th><th>metric</th>"
            + "".join(f'<th class="num">{esc(g)}</th>' for g in groups) + "</tr>")
    rows = []
    previous = None
    for (_, metric, _), cells in lines.items():
        first = next(iter(cells.values()))
        label = label_cell(first.label) if first.label != previous else "<td></td>"
        previous = first.label
        body = "".join(
            number_cell(c.score, c.ci_low, c.ci_high, f"{c.n_scored} of {c.n_questions} questions scored",
                        data_bd_by=t.by, data_bd_run=c.run, data_bd_group=c.group, data_bd_level=c.level,
                        data_bd_metric=c.metric, data_n=c.n_questions)
            if (c := cells.get(g)) else f'<td class="num muted">{fmt.DASH}</td>' for g in groups)
        rows.append(f'<tr class="ours">{label}<td>{esc(first.method)}</td><td>{esc(metric)}</td>{body}</tr>')
    notes = list(t.notes) + ([f"exposure: {t.exposure_source}"] if t.exposure_source else [])
    return (f"<h3>{esc(TITLES.get(t.by, t.by))}</h3>" + table(head, rows, "breakdown")
            + (f'<ul class="notes">{"".join(f"<li>{esc(n)}</li>" for n in notes)}</ul>' if notes else ""))


def render(data: BreakdownData, figs: Mapping[str, str]) -> str:
    parts = [_table(t) + figs.get(f"breakdown-{t.by}", "") for t in data.tables]
    parts += [f'<p class="note">{esc(s)}</p>' for s in data.skipped]
    return ('<p class="note">Each run scored on the questions of each group exactly like the '
            "leaderboard (rating runs: MAE, RMSE, accuracy), with its 95% bootstrap interval; hover a "
            "cell for its question count. These are the rows of <code>perrecbench breakdown RUN_DIR... "
            "--by BY</code>.</p>" + "".join(parts))


def build(inputs: ReportInputs, progress: Progress) -> Section | None:
    if not inputs.breakdowns or not inputs.runs:
        return None
    tables, skipped = [], []
    for i, by in enumerate(inputs.breakdowns):
        progress("breakdowns", i, len(inputs.breakdowns))
        try:
            tables.append(run_breakdown(inputs.runs, by, inputs.metric, n_resamples=inputs.resamples,
                                        seed=inputs.seed))
        except PerRecBenchError as exc:  # e.g. a benchmark without item metadata: say so, keep the rest
            skipped.append(f"no breakdown by {by}: {exc}")
    progress("breakdowns", len(inputs.breakdowns), len(inputs.breakdowns))
    data = BreakdownData(tuple(t for t in tables if t.rows), tuple(skipped))
    if not data.tables and not data.skipped:
        return None
    return Section(
        key="breakdown", title="Breakdowns", data=data, render=render,
        figures=tuple(af.breakdown_spec(t) for t in data.tables),
        lead="Where models do well and badly: scores per item category and per how often the item was "
             "rated (the paper relates scores to how often items occur in pretraining data).",
    )
