"""The report's figures, drawn with matplotlib (the `report` extra) and saved reproducibly.

matplotlib is imported inside these functions only, so the core install and `--help`
never load it. Figures are plain `matplotlib.figure.Figure` objects (no pyplot, no GUI)
saved through the Agg (PNG), SVG and PDF backends named explicitly. Text in the SVG is
drawn as paths and the PDF embeds the DejaVu font that ships with matplotlib, so no
file needs a font from the reader's machine or the network; with a fixed `svg.hashsalt`
and no dates in the metadata, the same data gives byte-identical files.

Figures round scores to 2 decimals (the paper's precision); the page's tables give 3.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..constants import LEVELS, METHODS
from ..errors import ConfigError, install_hint
from . import colors
from .formatting import score as fmt_score

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .page_data import CostData, LeaderboardData, MethodComparisonData, ReferenceData
    from .section import FigureSpec

STYLE = {
    "svg.hashsalt": "perrecbench",  # element ids from content, not from a random salt
    "svg.fonttype": "path",
    "pdf.fonttype": 42,
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    "axes.titlesize": 9.5,
    "axes.titleweight": "normal",  # one font face per PDF: each embedded face costs ~0.5 s
    "axes.labelsize": 8.5,
    "axes.edgecolor": "#555555",
    "axes.labelcolor": "#222222",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": "#333333",
    "ytick.color": "#333333",
    "legend.frameon": False,
    "figure.dpi": 100,
}
PNG_DPI = 160
METADATA = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None}, "png": {}}
BACKENDS = {"svg": "svg", "pdf": "pdf", "png": "agg"}


def _matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise ConfigError(f"the report's figures need matplotlib: {install_hint('report')}") from None
    return matplotlib


@contextmanager
def style() -> Iterator[None]:
    """The report's rcParams, for drawing and saving (set only inside this block)."""
    with _matplotlib().rc_context(STYLE):
        yield


def new_figure(width: float, height: float) -> Figure:
    """A figure of `width` x `height` inches on an Agg canvas (no display needed)."""
    _matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


@dataclass(frozen=True)
class Rendered:
    svg: bytes
    png: bytes
    pdf: bytes


def render(spec: FigureSpec) -> Rendered:
    """Draw a figure spec and save it in the three formats, in memory."""
    with style():
        fig = spec.draw(spec.data)
        fig.canvas.draw()  # lay it out once, then keep that layout for all three files
        fig.set_layout_engine("none")
        out = {}
        for fmt, backend in BACKENDS.items():
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt, backend=backend, metadata=METADATA[fmt],
                        dpi=PNG_DPI if fmt == "png" else None, facecolor="white")
            out[fmt] = buf.getvalue()
    return Rendered(**out)


def _cmap(limit: float):
    from matplotlib.colors import LinearSegmentedColormap, Normalize

    return LinearSegmentedColormap.from_list("perrecbench", colors.DIVERGING), Normalize(-limit, limit)


def _colorbar(fig: Figure, ax: Any, limit: float, label: str) -> None:
    from matplotlib.cm import ScalarMappable

    cmap, norm = _cmap(limit)
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.85, pad=0.02, aspect=30)
    bar.set_label(label)
    bar.outline.set_visible(False)
    if bar.solids is not None:  # vector, not an embedded bitmap, in the SVG and PDF
        bar.solids.set_rasterized(False)
        bar.solids.set_edgecolor("face")  # no hairline seams between the bands


# --- the leaderboard ----------------------------------------------------------------------

_GROUP = len(METHODS) + 0.35  # x distance between level groups


def _cell_x(level: str, method: str) -> float:
    return LEVELS.index(level) * _GROUP + METHODS.index(method)


def heatmap(board: LeaderboardData) -> Figure:
    """Models x (level, method) cells coloured by score, then Avg.; best Avg. on top."""
    from matplotlib.patches import Rectangle

    n = max(1, len(board.lines))
    fig = new_figure(7.2, 1.25 + 0.34 * n)
    ax = fig.add_subplot()
    avg_x = len(LEVELS) * _GROUP + 0.2
    for row, line in enumerate(board.lines):
        values = [(_cell_x(c.level, c.method), c.score) for c in line.cells.values()]
        values.append((avg_x, line.avg))
        for x, v in values:
            bg = colors.diverging(v, board.limit)
            ax.add_patch(Rectangle((x - 0.48, row - 0.46), 0.96, 0.92, facecolor=bg, edgecolor="white"))
            text = fmt_score(v, 2)
            if x == avg_x and not line.complete and v is not None:
                text += "*"
            ax.text(x, row, text, ha="center", va="center", color=colors.ink(bg),
                    fontsize=8.5 if x == avg_x else 7.5)
    ax.set_xlim(-0.6, avg_x + 0.6)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_yticks(range(len(board.lines)), [line.label for line in board.lines])
    ticks = [_cell_x(lv, m) for lv in LEVELS for m in METHODS] + [avg_x]
    ax.set_xticks(ticks, [m for _ in LEVELS for m in METHODS] + ["Avg."])
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for lv in LEVELS:
        ax.text(_cell_x(lv, METHODS[1]), -0.95, lv, ha="center", va="bottom", fontsize=9.5,
                transform=ax.transData, clip_on=False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    _colorbar(fig, ax, board.limit, f"{board.metric} (0 = chance)")
    return fig


# --- methods ------------------------------------------------------------------------------

_OFFSET = {"point": -0.24, "pair": 0.0, "list": 0.24}


def method_forest(data: MethodComparisonData) -> Figure:
    """One panel per level: each model's three methods as points with their 95% intervals."""
    n = max(1, len(data.models))
    fig = new_figure(7.2, 1.3 + 0.42 * n)
    axes = fig.subplots(1, len(LEVELS), sharey=True)
    lows = [c.ci_low for m in data.models for c in m.cells.values() if c.ci_low is not None]
    highs = [c.ci_high for m in data.models for c in m.cells.values() if c.ci_high is not None]
    lo, hi = min(lows + [0.0]), max(highs + [0.0])
    pad = 0.06 * (hi - lo or 1.0)
    for ax, level in zip(axes, LEVELS):
        ax.axvline(0, color="#999999", lw=0.8, ls=(0, (3, 3)), zorder=0)
        for row, model in enumerate(data.models):
            if row % 2 == 0:
                ax.axhspan(row - 0.5, row + 0.5, color="#f3f4f6", zorder=-1, lw=0)
            for method in METHODS:
                c = model.cells.get(f"{level}/{method}")
                if c is None or c.score is None:
                    continue
                y = row + _OFFSET[method]
                err = None
                if c.ci_low is not None and c.ci_high is not None:
                    err = [[c.score - c.ci_low], [c.ci_high - c.score]]
                ax.errorbar(c.score, y, xerr=err, fmt="o", ms=4.2, color=colors.METHOD[method],
                            elinewidth=1.3, capsize=0, label=method if row == 0 else None)
        ax.set_title(level)
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_xlabel(data.metric)
        ax.set_ylim(n - 0.5, -0.5)
        ax.tick_params(axis="y", length=0)
    axes[0].set_yticks(range(len(data.models)), [m.label for m in data.models])
    handles, labels = axes[0].get_legend_handles_labels()
    if not handles:
        for ax in axes[1:]:
            handles, labels = ax.get_legend_handles_labels()
            if handles:
                break
    fig.legend(handles, labels, loc="outside upper center", ncols=len(METHODS))
    return fig


# --- failures and cost -------------------------------------------------------------------


def _run_label(label: str, method: str) -> str:
    return f"{label} · {method}"


def failure_bars(data: CostData) -> Figure:
    """Per run, the share of its questions that failed, stacked by failure category."""
    runs = [r for r in data.runs if r.n_failed or r.n_missing]
    cats = sorted({k for r in runs for k in r.categories}, key=lambda k: -sum(r.categories.get(k, 0) for r in runs))
    fig = new_figure(7.2, 1.1 + 0.3 * max(1, len(runs)))
    ax = fig.add_subplot()
    for row, r in enumerate(runs):
        left = 0.0
        parts: list[tuple[str, int, str, str | None]] = [
            (k, r.categories.get(k, 0), colors.category(i), None) for i, k in enumerate(cats)]
        parts.append(("never answered", r.n_missing, "#d9d9d9", "////"))
        for name, count, color, hatch in parts:
            if not count:
                continue
            share = 100.0 * count / max(1, r.n_questions)
            ax.barh(row, share, left=left, color=color, hatch=hatch, edgecolor="white", lw=0.5,
                    label=name if name not in ax.get_legend_handles_labels()[1] else None)
            left += share
        ax.text(left, row, f"  {left:.1f}%", va="center", fontsize=7.5, color="#333333")
    ax.set_yticks(range(len(runs)), [_run_label(r.label, r.method) for r in runs])
    ax.set_ylim(len(runs) - 0.5, -0.5)
    ax.set_xlabel("share of questions (%)")
    ax.tick_params(axis="y", length=0)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=min(4, max(1, len(labels))))
    return fig


def calls_bars(data: CostData) -> Figure:
    """Per run with a call log: calls per question at each level, with 95% intervals."""
    runs = [r for r in data.runs if r.calls and r.costs is not None]
    fig = new_figure(7.2, 1.1 + 0.42 * max(1, len(runs)))
    ax = fig.add_subplot()
    shades = {"easy": "#9ecae1", "medium": "#4292c6", "hard": "#08519c"}
    for row, r in enumerate(runs):
        for j, level in enumerate(LEVELS):
            c = r.calls.get(level)
            if c is None or c.score is None:
                continue
            err = None
            if c.ci_low is not None and c.ci_high is not None:
                err = [[c.score - c.ci_low], [c.ci_high - c.score]]
            ax.barh(row + (j - 1) * 0.26, c.score, height=0.24, xerr=err, color=shades[level],
                    error_kw={"elinewidth": 0.8, "ecolor": "#333333"}, label=level if row == 0 else None)
    ax.set_yticks(range(len(runs)), [_run_label(r.label, r.method) for r in runs])
    ax.set_ylim(len(runs) - 0.5, -0.5)
    ax.set_xlabel("model calls per answered question")
    ax.tick_params(axis="y", length=0)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside upper center", ncols=len(LEVELS))
    return fig


# --- the published table -----------------------------------------------------------------


def reference_bars(data: ReferenceData) -> Figure:
    """Every model's Avg., published (grey) and ours (blue), best first."""
    entries = [(r.model, r.avg, False) for r in data.published]
    entries += [(line.label, line.avg, True) for line in data.ours if line.avg is not None]
    entries.sort(key=lambda e: -e[1])
    fig = new_figure(7.2, 1.0 + 0.2 * max(1, len(entries)))
    ax = fig.add_subplot()
    for row, (_, avg, ours) in enumerate(entries):
        ax.barh(row, avg, height=0.72, color=colors.OURS if ours else colors.PUBLISHED)
        ax.text(avg, row, f" {fmt_score(avg, 2)} " if avg >= 0 else f" {fmt_score(avg, 2)} ",
                va="center", ha="left" if avg >= 0 else "right", fontsize=7, color="#333333")
    ax.axvline(0, color="#555555", lw=0.8)
    ax.set_yticks(range(len(entries)), [e[0] for e in entries])
    for tick, (_, _, ours) in zip(ax.get_yticklabels(), entries):
        if ours:
            tick.set_color(colors.OURS)
    ax.set_ylim(len(entries) - 0.5, -0.5)
    values = [e[1] for e in entries] + [0.0]
    span = max(values) - min(values) or 1.0
    ax.set_xlim(min(values) - 0.12 * span, max(values) + 0.12 * span)
    ax.set_xlabel(f"Avg. of the 9 cells (published: official-v1; ours: {data.metric})")
    ax.tick_params(axis="y", length=0)
    return fig

