"""The rating task (`run --method rating`) and its correlation with preference scores.

Shown when the runs include rating runs: each one's MAE, RMSE and rounded accuracy
(the rows of `perrecbench score`), and `perrecbench correlate` on the same runs with
its defaults (the 9-cell Avg., runs matched by label, the oracle left out), so every
coefficient is what `correlate RUN_DIR... --format json` prints for the same seed and
resamples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from ...constants import RATING
from ...errors import ConfigError
from ...records.analysis import CorrelationReport, CorrelationRow
from ...score.correlation import correlate
from .. import analysis_figures as af
from .. import formatting as fmt
from ..html import attrs, esc, label_cell, number_cell, table
from ..leaderboard import row_labels
from ..page_data import Cell
from ..section import FigureSpec, Progress, ReportInputs, Section

ERRORS = (("mae", "MAE"), ("rmse", "RMSE"), ("acc", "accuracy"))
COEFFICIENTS = ("pearson", "spearman", "kendall")


@dataclass(frozen=True)
class RatingLine:
    """One rating run: its MAE, RMSE and accuracy rows (metric -> cell)."""

    label: str
    run: str
    errors: dict[str, Cell]


@dataclass(frozen=True)
class RatingData:
    lines: tuple[RatingLine, ...]  # lowest RMSE first
    correlation: CorrelationReport | None
    no_correlation: str = ""  # why there is none (no model has both kinds of run)


def _rmse(line: RatingLine) -> float:
    c = line.errors.get("rmse")
    return c.score if c is not None and c.score is not None else math.inf


def rating_data(inputs: ReportInputs) -> RatingData:
    rows = [r for r in inputs.rows if r.method == RATING and r.metric in dict(ERRORS)]
    labels = row_labels(rows)
    lines: dict[str, RatingLine] = {}
    for r in rows:
        lines.setdefault(r.run, RatingLine(labels[r.run], r.run, {})).errors[r.metric] = Cell.from_row(r)
    try:
        report: CorrelationReport | None = correlate(inputs.runs, inputs.metric, "avg", "label", False,
                                                     inputs.resamples, inputs.seed)
        why = ""
    except ConfigError as exc:  # e.g. rating runs only: the errors are still worth showing
        report, why = None, str(exc)
    return RatingData(tuple(sorted(lines.values(), key=lambda line: (_rmse(line), line.label))), report, why)


def _errors_table(data: RatingData) -> str:
    head = ("<tr><th>model</th>" + "".join(f'<th class="num">{esc(t)}</th>' for _, t in ERRORS)
            + '<th class="num">pairs scored</th><th class="num">failed</th></tr>')
    rows = []
    for line in data.lines:
        cells = "".join(
            number_cell(c.score, c.ci_low, c.ci_high, f"{c.n_scored} of {c.n_questions} pairs scored",
                        data_run=c.run, data_level=c.level, data_method=c.method, data_metric=c.metric,
                        data_n=c.n_questions) if (c := line.errors.get(m)) else f'<td class="num muted">{fmt.DASH}</td>'
            for m, _ in ERRORS)
        any_cell = next(iter(line.errors.values()))
        rows.append(f'<tr class="ours">{label_cell(line.label)}{cells}'
                    f'<td class="num">{any_cell.n_scored:,}</td><td class="num">{any_cell.n_failed:,}</td></tr>')
    return table(head, rows, "rating")


def _coefficient_cells(rows: Mapping[str, CorrelationRow], view: str, who: str, x: str) -> str:
    out = []
    for name in COEFFICIENTS:
        r = rows.get(name)
        if r is None:
            out.append(f'<td class="num muted">{fmt.DASH}</td>')
            continue
        out.append(number_cell(r.value, r.ci_low, r.ci_high, f"n = {r.n}", signed=True, data_corr_view=view,
                               data_corr_model=who, data_corr_x=x, data_corr_coefficient=name, data_n=r.n))
    return "".join(out)


def _correlation(report: CorrelationReport) -> str:
    models: dict[str, dict[str, CorrelationRow]] = {}
    groups: dict[str, dict[str, CorrelationRow]] = {}
    for r in report.rows:
        if r.view == "models":
            models.setdefault(r.x, {})[r.coefficient] = r
        else:
            groups.setdefault(r.model, {})[r.coefficient] = r
    coef_head = "".join(f'<th class="num">{c.title()}</th>' for c in COEFFICIENTS)
    n_models = len(report.points)
    across = table(f"<tr><th>{esc(report.preference)} vs</th>{coef_head}</tr>",
                   [f"<tr><td>{esc(dict(ERRORS).get(x, x))}</td>{_coefficient_cells(c, 'models', '', x)}</tr>"
                    for x, c in models.items()], "correlation")
    within = table(f"<tr><th>groups of</th>{coef_head}</tr>",
                   [f"<tr>{label_cell(who)}{_coefficient_cells(c, 'groups', who, 'abs error')}</tr>"
                    for who, c in groups.items()], "correlation")
    points = []
    for p in report.points:
        data = attrs(data_point=p.label, data_preference=fmt.full(p.preference), data_mae=fmt.full(p.mae),
                     data_rmse=fmt.full(p.rmse), data_acc=fmt.full(p.acc), data_pairs=p.n_pairs)
        points.append(f"<tr{data}>{label_cell(p.label)}"
                      + number_cell(p.preference, p.preference_ci_low, p.preference_ci_high)
                      + number_cell(p.mae, p.mae_ci_low, p.mae_ci_high)
                      + number_cell(p.rmse, p.rmse_ci_low, p.rmse_ci_high)
                      + number_cell(p.acc) + f'<td class="num">{p.n_pairs:,}</td></tr>')
    points_table = table(f'<tr><th>model</th><th class="num">{esc(report.preference)}</th><th class="num">MAE'
                         '</th><th class="num">RMSE</th><th class="num">accuracy</th>'
                         '<th class="num">pairs</th></tr>', points, "correlation-points")
    notes = "".join(f"<li>{esc(n)}</li>" for n in report.notes)
    return (f"<h3>Rating error vs preference, across {n_models} models</h3>" + points_table + across
            + '<p class="note">Each coefficient with its 95% percentile bootstrap interval over models. '
              "These are the rows of <code>perrecbench correlate RUN_DIR...</code>.</p>"
            + "<h3>Within each model, group by group</h3>" + within
            + f'<p class="note">Each group\'s mean absolute rating error on its members (those in the '
              f"rating sample) against the model's {esc(report.metric)} on the group; interval over "
              "groups.</p>" + (f'<ul class="notes">{notes}</ul>' if notes else ""))


def render(data: RatingData, figs: Mapping[str, str]) -> str:
    parts = [_errors_table(data),
             '<p class="note">Absolute 1–5 ratings of (user, item) pairs of the benchmark\'s questions; '
             "accuracy counts the rounded rating right. A failed answer has no rating: it is left out "
             "and counted. 95% bootstrap intervals.</p>", figs.get("rating-errors", "")]
    if data.correlation is not None:
        parts += [_correlation(data.correlation), figs.get("correlation", ""), figs.get("correlation-groups", "")]
    else:
        parts.append(f'<p class="note">No correlation: {esc(data.no_correlation)}.</p>')
    return "".join(parts)


def _value(line: RatingLine, metric: str, field: str) -> float:
    c = line.errors.get(metric)
    x = getattr(c, field) if c is not None else None
    return math.nan if x is None else x


def _errors(data: RatingData) -> list[af.RatingErrors]:
    return [af.RatingErrors(line.label, *(_value(line, m, f) for m in ("mae", "rmse", "acc")
                                          for f in ("score", "ci_low", "ci_high")))
            for line in data.lines]


def build(inputs: ReportInputs, progress: Progress) -> Section | None:
    if not any(r.method == RATING for r in inputs.runs):
        return None
    progress("rating and correlation", 0, 1)
    data = rating_data(inputs)
    progress("rating and correlation", 1, 1)
    specs = [FigureSpec("rating-errors", "MAE, RMSE and accuracy of the rounded rating per rating run, with "
                        "95% bootstrap intervals (lowest RMSE on top).", af.draw_rating_errors, _errors(data))]
    if data.correlation is not None:
        specs += [s for s in af.correlation_specs(data.correlation) if s.name != "rating-errors"]
    return Section(
        key="rating", title="Rating prediction", data=data, render=render, figures=tuple(specs),
        lead="The classic task the paper argues against: predict each user's absolute rating. Does a "
             "lower rating error go with a better ranking of preferences?",
    )
