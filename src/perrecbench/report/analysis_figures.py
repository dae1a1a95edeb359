"""Figures of the analyses, each written as SVG, PNG and PDF (`name.svg`, `.png`, `.pdf`).

Every function takes a typed result (`records.analysis`) and an output folder and
returns the files it wrote. matplotlib (the `report` extra: the plotting library papers
use, with vector output for them) is imported inside the functions, and only its
object API is used (`matplotlib.figure.Figure`; no pyplot, no global backend), so
drawing never touches a display. Output is deterministic: a fixed SVG hash salt, no
dates in SVG or PDF metadata, deterministic jitter.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..records.analysis import BreakdownTable, CorrelationReport
from ..records.sweep import SweepTable

FORMATS = ("svg", "png", "pdf")
DPI = 110
#: rc settings every figure is drawn and saved under
RC = {"svg.hashsalt": "perrecbench", "font.size": 8, "axes.titlesize": 8.5, "axes.labelsize": 8,
      "legend.fontsize": 7, "xtick.labelsize": 7, "ytick.labelsize": 7, "axes.spines.top": False,
      "axes.spines.right": False, "figure.dpi": DPI}
_METADATA = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None}, "png": {}}
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
            "#bcbd22", "#17becf")
_LEVELS = ("easy", "medium", "hard", "all")
_METHOD_ORDER = {"point": 0, "pair": 1, "list": 2, "rating": 3}


def _mpl() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ConfigError("figures need matplotlib: pip install 'perrecbench[report]'") from None
    return matplotlib


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _save(fig: Any, out_dir: Path | str, name: str) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in FORMATS:
        path = out / f"{name}.{fmt}"
        fig.savefig(path, format=fmt, metadata=_METADATA[fmt], dpi=DPI)
        paths.append(path)
    return paths


def _draw(width: float, height: float, out_dir: Path | str, name: str, paint: Any) -> list[Path]:
    """Make a figure under the fixed rc settings, let `paint(fig)` draw it, save it."""
    mpl = _mpl()
    with mpl.rc_context(RC):
        fig = _figure(width, height)
        paint(fig)
        return _save(fig, out_dir, name)


def _finite(*values: float | None) -> bool:
    return all(v is not None and not math.isnan(v) for v in values)


def _short(label: str) -> str:
    return label.removeprefix("baseline/")


def _err(value: float, lo: float, hi: float) -> list[list[float]] | None:
    return [[max(0.0, value - lo)], [max(0.0, hi - value)]] if _finite(value, lo, hi) else None


# --- correlate ---------------------------------------------------------------------------------


def correlation_figure(report: CorrelationReport, out_dir: Path | str, name: str = "correlation") -> list[Path]:
    """Preference score against MAE and against RMSE, one point per model (95% CIs), each
    panel titled with its Spearman and Kendall coefficients across models."""
    coef = {(r.x, r.coefficient): r for r in report.rows if r.view == "models"}

    def paint(fig: Any) -> None:
        axes = fig.subplots(1, 2, sharey=True)
        for ax, err in zip(axes, ("mae", "rmse"), strict=True):
            for i, p in enumerate(report.points):
                x, y = getattr(p, err), p.preference
                if not _finite(x, y):
                    continue
                color = _PALETTE[i % len(_PALETTE)]
                ax.errorbar([x], [y], xerr=_err(x, getattr(p, f"{err}_ci_low"), getattr(p, f"{err}_ci_high")),
                            yerr=_err(y, p.preference_ci_low, p.preference_ci_high), fmt="o", color=color,
                            ms=5, capsize=2, lw=1)
                ax.annotate(_short(p.label), (x, y), textcoords="offset points", xytext=(5, 4), fontsize=7,
                            color=color)
            sp, kd = coef.get((err, "spearman")), coef.get((err, "kendall"))
            ax.set_title(f"{err.upper()}: Spearman {_f2(sp)}, Kendall {_f2(kd)} (n = {sp.n if sp else 0})")
            ax.set_xlabel(f"{err.upper()} on the rating task (lower is better)")
            ax.axhline(0.0, color="#999999", lw=0.6, ls=":")
        axes[0].set_ylabel(f"{report.preference} (higher is better)")

    return _draw(7.2, 3.0, out_dir, name, paint)


def _f2(row: Any) -> str:
    return "n/a" if row is None or not _finite(row.value) else f"{row.value:+.2f}"


def group_correlation_figure(report: CorrelationReport, out_dir: Path | str,
                             name: str = "correlation-groups", max_models: int = 6) -> list[Path]:
    """Per model (up to `max_models`): each group's mean |rating error| against the
    model's tau on it (tau jittered a little so equal values stay visible)."""
    import numpy as np

    by_model: dict[str, list[Any]] = defaultdict(list)
    for g in report.groups:
        by_model[g.model].append(g)
    models = list(by_model)[:max_models]
    coef = {r.model: r for r in report.rows if r.view == "groups" and r.coefficient == "spearman"}

    def paint(fig: Any) -> None:
        if not models:
            ax = fig.subplots()
            ax.text(0.5, 0.5, "no group has a rated member", ha="center", va="center")
            ax.set_axis_off()
            return
        cols = min(3, len(models))
        rows = math.ceil(len(models) / cols)
        axes = np.atleast_1d(fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False)).ravel()
        rng = np.random.default_rng(0)
        for i, (ax, model) in enumerate(zip(axes, models, strict=False)):
            pts = by_model[model]
            x = np.array([g.error for g in pts])
            y = np.array([g.tau for g in pts]) + rng.uniform(-0.04, 0.04, len(pts))
            ax.scatter(x, y, s=7, alpha=0.45, color=_PALETTE[i % len(_PALETTE)], linewidths=0)
            ax.set_title(f"{_short(model)}: Spearman {_f2(coef.get(model))} (n = {len(pts)})")
            ax.axhline(0.0, color="#999999", lw=0.6, ls=":")
        for ax in axes[len(models):]:
            ax.set_axis_off()
        fig.supxlabel("mean |rating error| on the group's members", fontsize=8)
        fig.supylabel(f"{report.metric} on the group", fontsize=8)

    return _draw(7.2, 2.4 * math.ceil(max(1, len(models)) / 3), out_dir, name, paint)


def rating_errors_figure(report: CorrelationReport, out_dir: Path | str, name: str = "rating-errors") -> list[Path]:
    """MAE, RMSE and rounded-rating accuracy per model on the rating task, with 95% CIs."""
    points = sorted(report.points, key=lambda p: p.rmse if _finite(p.rmse) else math.inf)

    def paint(fig: Any) -> None:
        axes = fig.subplots(1, 3, sharey=True)
        labels = [_short(p.label) for p in points]
        ys = list(range(len(points)))
        for ax, (field, title) in zip(axes, (("mae", "MAE"), ("rmse", "RMSE"), ("acc", "accuracy (rounded)")),
                                      strict=True):
            values = [getattr(p, field) for p in points]
            xerr = None
            if field != "acc":
                lows = [getattr(p, f"{field}_ci_low") for p in points]
                highs = [getattr(p, f"{field}_ci_high") for p in points]
                xerr = [[max(0.0, v - lo) if _finite(v, lo) else 0.0 for v, lo in zip(values, lows, strict=True)],
                        [max(0.0, hi - v) if _finite(v, hi) else 0.0 for v, hi in zip(values, highs, strict=True)]]
            ax.barh(ys, [v if _finite(v) else 0.0 for v in values], xerr=xerr, color="#9ecae1",
                    edgecolor="#3182bd", capsize=2, height=0.6)
            ax.set_title(title)
        axes[0].set_yticks(ys, labels)
        axes[0].invert_yaxis()

    return _draw(7.2, 0.5 + 0.32 * max(3, len(points)), out_dir, name, paint)


# --- sweep -------------------------------------------------------------------------------------


def _is_number(values: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def sweep_figures(table: SweepTable, out_dir: Path | str, prefix: str = "sweep") -> list[Path]:
    """A line plot per varied setting (`sweep-<setting>.*`): one panel per level, one line
    per method, the cells where every other setting has its base value, 95% CI bars.
    The rating task, when swept, gets its own panel (RMSE)."""
    paths: list[Path] = []
    for axis, values in table.axes.items():
        others = {a: table.base.get(a) for a in table.axes if a != axis}
        rows = [r for r in table.rows if all(r.settings.get(a) == v for a, v in others.items())]
        paths += _draw(7.2, 2.8, out_dir, f"{prefix}-{_safe(axis)}",
                       lambda fig, axis=axis, values=values, rows=rows: _sweep_panels(fig, table, axis, values, rows))
    return paths


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def _sweep_panels(fig: Any, table: SweepTable, axis: str, values: Sequence[Any], rows: Sequence[Any]) -> None:
    numeric = _is_number(values)
    xs = {v: (float(v) if numeric else i) for i, v in enumerate(values)}
    panels = [lv for lv in _LEVELS if any(r.level == lv and r.method != "rating" and r.metric == table.metric
                                          for r in rows)]
    rating = any(r.method == "rating" and r.metric == "rmse" for r in rows)
    names = panels + (["rating"] if rating else [])
    if not names:
        ax = fig.subplots()
        ax.text(0.5, 0.5, f"no scored cell varies {axis}", ha="center", va="center")
        ax.set_axis_off()
        return
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, panel in zip(axes, names, strict=True):
        if panel == "rating":
            chosen = [r for r in rows if r.method == "rating" and r.metric == "rmse"]
            ax.set_ylabel("RMSE (rating task)")
        else:
            chosen = [r for r in rows if r.level == panel and r.method != "rating" and r.metric == table.metric]
        methods = sorted({r.method for r in chosen}, key=lambda m: _METHOD_ORDER.get(m, 9))
        for j, method in enumerate(methods):
            pts = sorted(((xs[r.settings.get(axis)], r) for r in chosen
                          if r.method == method and r.settings.get(axis) in xs), key=lambda p: p[0])
            if not pts:
                continue
            x = [p[0] for p in pts]
            y = [p[1].score for p in pts]
            err = [[max(0.0, p[1].score - p[1].ci_low) if _finite(p[1].ci_low) else 0.0 for p in pts],
                   [max(0.0, p[1].ci_high - p[1].score) if _finite(p[1].ci_high) else 0.0 for p in pts]]
            ax.errorbar(x, y, yerr=err, marker="o", ms=3.5, lw=1.2, capsize=2, label=method,
                        color=_PALETTE[_METHOD_ORDER.get(method, j) % len(_PALETTE)])
        ax.set_title(panel)
        ax.set_xlabel(axis + ("" if table.base.get(axis) is None else f" (base {table.base[axis]})"))
        if not numeric:
            ax.set_xticks(list(xs.values()), [str(v) for v in values], rotation=20)
        if panel != "rating":
            ax.axhline(0.0, color="#999999", lw=0.6, ls=":")
    if panels:
        axes[0].set_ylabel(table.metric)
    handles: list[Any] = []
    seen: list[str] = []
    for ax in axes:
        for h, n in zip(*ax.get_legend_handles_labels(), strict=True):
            if n not in seen:
                handles.append(h)
                seen.append(n)
    if handles:
        fig.legend(handles, seen, loc="outside lower center", ncols=len(seen), frameon=False)
    fig.suptitle(f"{table.model}: varying {axis}", fontsize=9)


# --- breakdown ---------------------------------------------------------------------------------


def breakdown_figure(table: BreakdownTable, out_dir: Path | str, name: str | None = None) -> list[Path]:
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

    def paint(fig: Any) -> None:
        if not rows:
            ax = fig.subplots()
            ax.text(0.5, 0.5, "nothing to break down", ha="center", va="center")
            ax.set_axis_off()
            return
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
                    style = {"fmt": "o", "ms": 3.5, "capsize": 2, "lw": 1, "color": _PALETTE[j % len(_PALETTE)],
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
            ax.set_title(method)
        handles: list[Any] = []
        names_seen: list[str] = []
        for ax in axes:
            for h, n in zip(*ax.get_legend_handles_labels(), strict=True):
                if n not in names_seen:
                    handles.append(h)
                    names_seen.append(n)
        fig.legend(handles, names_seen, loc="outside lower center", ncols=min(6, max(1, len(names_seen))),
                   frameon=False)
        fig.suptitle(f"Scores by {table.by}", fontsize=9)

    if horizontal:
        size = (min(10.0, 1.2 + 2.6 * len(methods)), 1.2 + 0.3 * most)
    else:
        size = (max(4.0, min(9.0, 2.4 * len(methods) + 0.35 * most)), 3.3)
    return _draw(*size, out_dir, name or f"breakdown-{table.by}", paint)
