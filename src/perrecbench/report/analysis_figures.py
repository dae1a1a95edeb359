"""Figures of the analyses (correlate, breakdown, sweep), drawn like every report figure.

Each figure is a `FigureSpec` whose `draw(data)` builds a `figures.new_figure` in the
report's colours; `figures.render` draws it under the report's style and saves it as
SVG, PNG and PDF (deterministic: fixed SVG hash salt, no dates, fixed jitter). The
report's sections place the same specs on the page; the commands' `--out DIR` write
them as files with `save` (the `*_figure(s)` functions below).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..records.analysis import BreakdownTable, CorrelationReport
from ..records.sweep import SweepTable
from . import colors
from . import figures as figs
from .section import FigureSpec

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMATS = ("svg", "png", "pdf")
_LEVELS = ("easy", "medium", "hard", "all")
_METHOD_ORDER = {"point": 0, "pair": 1, "list": 2, "rating": 3}
_SMALL = 7  # legends and tick labels of the denser analysis figures


def save(specs: Sequence[FigureSpec], out_dir: Path | str) -> list[Path]:
    """Render each spec and write `name.svg`, `.png` and `.pdf` into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for spec in specs:
        rendered = figs.render(spec)
        for fmt in FORMATS:
            path = out / f"{spec.name}.{fmt}"
            path.write_bytes(getattr(rendered, fmt))
            paths.append(path)
    return paths


def _model_color(i: int) -> str:
    return colors.category(i)


def _method_color(method: str) -> str:
    return colors.METHOD.get(method, colors.RATING)


def _finite(*values: float | None) -> bool:
    return all(v is not None and not math.isnan(v) for v in values)


def _short(label: str) -> str:
    return label.removeprefix("baseline/")


def _err(value: float, lo: float, hi: float) -> list[list[float]] | None:
    return [[max(0.0, value - lo)], [max(0.0, hi - value)]] if _finite(value, lo, hi) else None


def _empty(fig: Figure, text: str) -> Figure:
    ax = fig.subplots()
    ax.text(0.5, 0.5, text, ha="center", va="center")
    ax.set_axis_off()
    return fig


# --- correlate ---------------------------------------------------------------------------------


def _f2(row: Any) -> str:
    return "n/a" if row is None or not _finite(row.value) else f"{row.value:+.2f}"


def draw_correlation(report: CorrelationReport) -> Figure:
    """Preference score against MAE and against RMSE, one point per model (95% CIs), each
    panel titled with its Spearman and Kendall coefficients across models."""
    coef = {(r.x, r.coefficient): r for r in report.rows if r.view == "models"}
    fig = figs.new_figure(7.2, 3.0)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, err in zip(axes, ("mae", "rmse"), strict=True):
        for i, p in enumerate(report.points):
            x, y = getattr(p, err), p.preference
            if not _finite(x, y):
                continue
            color = _model_color(i)
            ax.errorbar([x], [y], xerr=_err(x, getattr(p, f"{err}_ci_low"), getattr(p, f"{err}_ci_high")),
                        yerr=_err(y, p.preference_ci_low, p.preference_ci_high), fmt="o", color=color,
                        ms=5, capsize=2, lw=1)
            ax.annotate(_short(p.label), (x, y), textcoords="offset points", xytext=(5, 4), fontsize=_SMALL,
                        color=color)
        sp, kd = coef.get((err, "spearman")), coef.get((err, "kendall"))
        ax.set_title(f"{err.upper()}: Spearman {_f2(sp)}, Kendall {_f2(kd)} (n = {sp.n if sp else 0})")
        ax.set_xlabel(f"{err.upper()} on the rating task (lower is better)")
        ax.axhline(0.0, color="#999999", lw=0.6, ls=":")
    axes[0].set_ylabel(f"{report.preference} (higher is better)")
    return fig


def draw_group_correlation(report: CorrelationReport, max_models: int = 6) -> Figure:
    """Per model (up to `max_models`): each group's mean |rating error| against the
    model's tau on it (tau jittered a little, with a fixed seed, so equal values show)."""
    import numpy as np

    by_model: dict[str, list[Any]] = defaultdict(list)
    for g in report.groups:
        by_model[g.model].append(g)
    models = list(by_model)[:max_models]
    coef = {r.model: r for r in report.rows if r.view == "groups" and r.coefficient == "spearman"}
    fig = figs.new_figure(7.2, 2.4 * math.ceil(max(1, len(models)) / 3))
    if not models:
        return _empty(fig, "no group has a rated member")
    cols = min(3, len(models))
    rows = math.ceil(len(models) / cols)
    axes = np.atleast_1d(fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False)).ravel()
    rng = np.random.default_rng(0)
    for i, (ax, model) in enumerate(zip(axes, models, strict=False)):
        pts = by_model[model]
        x = np.array([g.error for g in pts])
        y = np.array([g.tau for g in pts]) + rng.uniform(-0.04, 0.04, len(pts))
        ax.scatter(x, y, s=7, alpha=0.45, color=_model_color(i), linewidths=0)
        ax.set_title(f"{_short(model)}: Spearman {_f2(coef.get(model))} (n = {len(pts)})", fontsize=8)
        ax.axhline(0.0, color="#999999", lw=0.6, ls=":")
    for ax in axes[len(models):]:
        ax.set_axis_off()
    fig.supxlabel("mean |rating error| on the group's members")
    fig.supylabel(f"{report.metric} on the group")
    return fig


@dataclass(frozen=True)
class RatingErrors:
    """One model's errors on the rating task, with their 95% intervals (NaN: none)."""

    label: str
    mae: float
    mae_ci_low: float
    mae_ci_high: float
    rmse: float
    rmse_ci_low: float
    rmse_ci_high: float
    acc: float
    acc_ci_low: float = math.nan
    acc_ci_high: float = math.nan


def rating_errors_of(report: CorrelationReport) -> list[RatingErrors]:
    """The correlation's models as rating errors (their accuracy has no interval there)."""
    return [RatingErrors(p.label, p.mae, p.mae_ci_low, p.mae_ci_high, p.rmse, p.rmse_ci_low, p.rmse_ci_high, p.acc)
            for p in report.points]


def draw_rating_errors(errors: Sequence[RatingErrors]) -> Figure:
    """MAE, RMSE and rounded-rating accuracy per model on the rating task, with 95% CIs;
    the lowest RMSE on top."""
    points = sorted(errors, key=lambda p: p.rmse if _finite(p.rmse) else math.inf)
    fig = figs.new_figure(7.2, 0.5 + 0.32 * max(3, len(points)))
    axes = fig.subplots(1, 3, sharey=True)
    ys = list(range(len(points)))
    for ax, (field, title) in zip(axes, (("mae", "MAE"), ("rmse", "RMSE"), ("acc", "accuracy (rounded)")),
                                  strict=True):
        values = [getattr(p, field) for p in points]
        lows = [getattr(p, f"{field}_ci_low") for p in points]
        highs = [getattr(p, f"{field}_ci_high") for p in points]
        xerr = [[max(0.0, v - lo) if _finite(v, lo) else 0.0 for v, lo in zip(values, lows, strict=True)],
                [max(0.0, hi - v) if _finite(v, hi) else 0.0 for v, hi in zip(values, highs, strict=True)]]
        ax.barh(ys, [v if _finite(v) else 0.0 for v in values], xerr=xerr, color=colors.OURS, alpha=0.75,
                capsize=2, height=0.6, error_kw={"elinewidth": 0.8, "ecolor": "#333333"})
        ax.set_title(title)
        ax.tick_params(axis="y", length=0)
    axes[0].set_yticks(ys, [_short(p.label) for p in points])
    axes[0].invert_yaxis()
    return fig


def correlation_specs(report: CorrelationReport, prefix: str = "") -> list[FigureSpec]:
    """The three figures of a correlation report: scatter, per-group view, rating errors."""
    return [
        FigureSpec(f"{prefix}correlation", f"{report.preference} against MAE and RMSE on the rating task, one "
                   "point per model with 95% intervals; titles give the rank correlations across models.",
                   draw_correlation, report),
        FigureSpec(f"{prefix}correlation-groups", "Within each model: every group's mean absolute rating error "
                   f"on its members against the model's {report.metric} on the group (tau jittered slightly).",
                   draw_group_correlation, report),
        FigureSpec(f"{prefix}rating-errors", "MAE, RMSE and accuracy of the rounded rating per model on the "
                   "rating task, with 95% bootstrap intervals (lowest RMSE on top).",
                   draw_rating_errors, rating_errors_of(report)),
    ]


def correlation_figure(report: CorrelationReport, out_dir: Path | str, name: str = "correlation") -> list[Path]:
    """`correlate --out`: the scatter as figure files."""
    return save([FigureSpec(name, "", draw_correlation, report)], out_dir)


def group_correlation_figure(report: CorrelationReport, out_dir: Path | str,
                             name: str = "correlation-groups", max_models: int = 6) -> list[Path]:
    """`correlate --out`: the per-group view as figure files."""
    return save([FigureSpec(name, "", lambda r: draw_group_correlation(r, max_models), report)], out_dir)


def rating_errors_figure(report: CorrelationReport, out_dir: Path | str, name: str = "rating-errors") -> list[Path]:
    """`correlate --out`: the correlation's models' rating errors as figure files."""
    return save([FigureSpec(name, "", draw_rating_errors, rating_errors_of(report))], out_dir)


# --- sweep -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepPlot:
    """One varied setting of a sweep: what its line plot draws."""

    table: SweepTable
    axis: str


def _is_number(values: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def sweep_specs(table: SweepTable, prefix: str = "sweep", slug: Any = _safe) -> list[FigureSpec]:
    """A line plot per varied setting, named `<prefix>-<setting>` (`slug` makes the
    setting a file name)."""
    return [FigureSpec(f"{prefix}-{slug(axis)}",
                       f"{table.model} as {axis} varies (the other settings at their base value): a panel "
                       f"per level ({table.metric}, a line per method) and the rating task's RMSE, with 95% "
                       "intervals.", draw_sweep, SweepPlot(table, axis))
            for axis in table.axes]


def sweep_figures(table: SweepTable, out_dir: Path | str, prefix: str = "sweep") -> list[Path]:
    """`sweep`: a line plot per varied setting (`sweep-<setting>.*`): one panel per level,
    one line per method, the cells where every other setting has its base value, 95% CI
    bars. The rating task, when swept, gets its own panel (RMSE)."""
    return save(sweep_specs(table, prefix), out_dir)


def draw_sweep(plot: SweepPlot) -> Figure:
    """The line plot of one varied setting (see `sweep_figures`)."""
    table, axis = plot.table, plot.axis
    values = list(table.axes[axis])
    base = table.base.get(axis)
    if base is not None and base not in values:  # the base cell is a point of every line too
        values = sorted([*values, base]) if _is_number([*values, base]) else [base, *values]
    others = {a: table.base.get(a) for a in table.axes if a != axis}
    rows = [r for r in table.rows if all(r.settings.get(a) == v for a, v in others.items())]
    fig = figs.new_figure(7.2, 2.8)
    numeric = _is_number(values)
    xs = {v: (float(v) if numeric else i) for i, v in enumerate(values)}
    panels = [lv for lv in _LEVELS if any(r.level == lv and r.method != "rating" and r.metric == table.metric
                                          for r in rows)]
    rating = any(r.method == "rating" and r.metric == "rmse" for r in rows)
    names = panels + (["rating"] if rating else [])
    if not names:
        return _empty(fig, f"no scored cell varies {axis}")
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, panel in zip(axes, names, strict=True):
        if panel == "rating":
            chosen = [r for r in rows if r.method == "rating" and r.metric == "rmse"]
            ax.set_ylabel("RMSE (rating task)")
        else:
            chosen = [r for r in rows if r.level == panel and r.method != "rating" and r.metric == table.metric]
        methods = sorted({r.method for r in chosen}, key=lambda m: _METHOD_ORDER.get(m, 9))
        for method in methods:
            pts = sorted(((xs[r.settings.get(axis)], r) for r in chosen
                          if r.method == method and r.settings.get(axis) in xs), key=lambda p: p[0])
            if not pts:
                continue
            x = [p[0] for p in pts]
            y = [p[1].score for p in pts]
            err = [[max(0.0, p[1].score - p[1].ci_low) if _finite(p[1].ci_low) else 0.0 for p in pts],
                   [max(0.0, p[1].ci_high - p[1].score) if _finite(p[1].ci_high) else 0.0 for p in pts]]
            ax.errorbar(x, y, yerr=err, marker="o", ms=3.5, lw=1.2, capsize=2, label=method,
                        color=_method_color(method))
        ax.set_title(panel)
        ax.set_xlabel(axis + ("" if table.base.get(axis) is None else f" (base {table.base[axis]})"))
        if not numeric:
            ax.set_xticks(list(xs.values()), [str(v) for v in values], rotation=20)
        if panel != "rating":
            ax.axhline(0.0, color="#999999", lw=0.6, ls=":")
    if panels:
        axes[0].set_ylabel(table.metric)
    _legend(fig, axes)
    fig.suptitle(f"{table.model}: varying {axis}")
    return fig


def _legend(fig: Figure, axes: Sequence[Any], most: int = 6) -> None:
    """One legend under all panels, each label once."""
    handles: list[Any] = []
    seen: list[str] = []
    for ax in axes:
        for h, n in zip(*ax.get_legend_handles_labels(), strict=True):
            if n not in seen:
                handles.append(h)
                seen.append(n)
    if handles:
        fig.legend(handles, seen, loc="outside lower center", ncols=min(most, len(seen)), fontsize=_SMALL)


# --- breakdown ---------------------------------------------------------------------------------


def breakdown_spec(table: BreakdownTable, name: str | None = None) -> FigureSpec:
    return FigureSpec(name or f"breakdown-{table.by}",
                      f"Scores by {table.by}: a panel per method (the rating task in RMSE), a series per "
                      "model, with 95% intervals and each group's question count.", draw_breakdown, table)


def breakdown_figure(table: BreakdownTable, out_dir: Path | str, name: str | None = None) -> list[Path]:
    """`breakdown --out`: the breakdown as figure files (see `draw_breakdown`)."""
    return save([breakdown_spec(table, name)], out_dir)


def draw_breakdown(table: BreakdownTable) -> Figure:
    """Scores per group for each model (a series), one panel per method (the rating task
    in RMSE), with 95% CIs and each group's question count. Up to 4 groups run along x;
    more (categories) run down the y axis so their names stay readable."""
    rows = list(table.rows)
    if table.by == "method":  # the preference methods side by side in one panel, the rating task in another
        rows = [r.model_copy(update={"group": r.method, "rank": _METHOD_ORDER.get(r.method, 9),
                                     "method": "rating" if r.method == "rating" else "preference"})
                for r in rows]
    order = {"preference": -1, **_METHOD_ORDER}
    methods = sorted({r.method for r in rows}, key=lambda m: order.get(m, 9))
    panels = {m: [r for r in rows if r.method == m and (r.metric == table.metric or m == "rating" and r.metric == "rmse")]
              for m in methods}
    groups = {m: [g for _, g in sorted({(r.rank, r.group) for r in mine})] for m, mine in panels.items()}
    labels = list(dict.fromkeys(r.label for r in rows))
    most = max((len(g) for g in groups.values()), default=0)
    horizontal = most > 4
    if horizontal:
        size = (min(10.0, 1.2 + 2.6 * len(methods)), 1.2 + 0.3 * most)
    else:
        size = (max(4.0, min(9.0, 2.4 * len(methods) + 0.35 * most)), 3.3)
    fig = figs.new_figure(*size)
    if not rows:
        return _empty(fig, "nothing to break down")
    axes = fig.subplots(1, len(methods), squeeze=False)[0]
    width = 0.8 / max(1, len(labels))
    for ax, method in zip(axes, methods, strict=True):
        mine, names = panels[method], groups[method]
        levels = sorted({r.level for r in mine}, key=lambda lv: _LEVELS.index(lv) if lv in _LEVELS else 9)
        for j, label in enumerate(labels):
            for k, level in enumerate(levels):
                pts = [(names.index(r.group), r) for r in mine if r.label == label and r.level == level]
                if not pts:
                    continue
                pos = [i + (j - (len(labels) - 1) / 2) * width for i, _ in pts]
                val = [r.score for _, r in pts]
                err = [[max(0.0, r.score - r.ci_low) if _finite(r.score, r.ci_low) else 0.0 for _, r in pts],
                       [max(0.0, r.ci_high - r.score) if _finite(r.score, r.ci_high) else 0.0 for _, r in pts]]
                style = {"fmt": "o", "ms": 3.5, "capsize": 2, "lw": 1, "color": _model_color(j),
                         "alpha": 1.0 - 0.25 * k,
                         "label": _short(label) + ("" if len(levels) == 1 else f" ({level})")}
                if horizontal:
                    ax.errorbar(val, pos, xerr=err, **style)
                else:
                    ax.errorbar(pos, val, yerr=err, **style)
        counts: dict[str, int] = {}
        for r in mine:
            counts.setdefault(r.group, r.n_questions)
        ticks = [f"{g} (n={counts.get(g, 0)})" if horizontal else f"{g}\n(n={counts.get(g, 0)})" for g in names]
        score = "RMSE" if method == "rating" else table.metric
        if horizontal:
            ax.set_yticks(range(len(names)), ticks)
            ax.invert_yaxis()
            ax.set_xlabel(score)
            if method != "rating":
                ax.axvline(0.0, color="#999999", lw=0.6, ls=":")
        else:
            ax.set_xticks(range(len(names)), ticks)
            ax.set_ylabel(score)
            if method != "rating":
                ax.axhline(0.0, color="#999999", lw=0.6, ls=":")
        ax.tick_params(labelsize=_SMALL)
        ax.set_title(method)
    _legend(fig, axes)
    fig.suptitle(f"Scores by {table.by}")
    return fig
