"""The analyses' results as terminal tables (rich, returned as text) and CSV: the
correlation report, a sweep's tidy table and breakdowns."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from typing import Any

from ..records.analysis import BreakdownTable, CorrelationReport
from ..records.sweep import SweepTable
from .board_text import render_text


def _f(x: float | None, digits: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _ci(lo: float | None, hi: float | None) -> str:
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return "-"
    return f"[{lo:.3f}, {hi:.3f}]"


def _table(title: str, header: Sequence[str], rows: Iterable[Sequence[str]], caption: str = "",
           right: Iterable[str] = ()) -> Any:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title, caption=caption or None)
    right = set(right)
    for h in header:
        table.add_column(h, justify="right" if h in right else "left")
    for row in rows:
        table.add_row(*map(escape, row))
    return table


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow(["" if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in row])
    return buf.getvalue()


# --- correlate ---------------------------------------------------------------------------------

POINT_HEADER = ["model", "preference", "preference_cells", "mae", "mae_ci_low", "mae_ci_high", "rmse",
                "rmse_ci_low", "rmse_ci_high", "acc", "n_pairs", "n_failed"]
ROW_HEADER = ["view", "model", "x", "y", "coefficient", "value", "ci_low", "ci_high", "n"]


def correlation_text(report: CorrelationReport, width: int = 140) -> str:
    models = _table(
        f"Preference ({report.preference}) and rating-prediction error, per model",
        ["model", report.preference, "MAE", "95% CI", "RMSE", "95% CI", "acc", "pairs", "failed"],
        ([p.label, _f(p.preference), _f(p.mae), _ci(p.mae_ci_low, p.mae_ci_high), _f(p.rmse),
          _ci(p.rmse_ci_low, p.rmse_ci_high), _f(p.acc), str(p.n_pairs), str(p.n_failed)] for p in report.points),
        right=[report.preference, "MAE", "RMSE", "acc", "pairs", "failed"],
    )
    across = _table(
        "Correlation across models (95% bootstrap CI over models)",
        ["error", "vs", "coefficient", "value", "95% CI", "models"],
        ([r.x, r.y, r.coefficient, _f(r.value), _ci(r.ci_low, r.ci_high), str(r.n)]
         for r in report.rows if r.view == "models"),
        right=["value", "models"],
    )
    groups = _table(
        "Per group: mean |rating error| on its members vs the model's tau on it (95% CI over groups)",
        ["model", "coefficient", "value", "95% CI", "groups"],
        ([r.model, r.coefficient, _f(r.value), _ci(r.ci_low, r.ci_high), str(r.n)]
         for r in report.rows if r.view == "groups"),
        caption="\n".join(report.notes), right=["value", "groups"],
    )
    return "".join(render_text(t, width) for t in (models, across, groups))


def correlation_points_csv(report: CorrelationReport) -> str:
    return csv_text(POINT_HEADER, ([p.label, p.preference, p.preference_cells, p.mae, p.mae_ci_low, p.mae_ci_high,
                                    p.rmse, p.rmse_ci_low, p.rmse_ci_high, p.acc, p.n_pairs, p.n_failed]
                                   for p in report.points))


def correlation_csv(report: CorrelationReport) -> str:
    return csv_text(ROW_HEADER, ([r.view, r.model, r.x, r.y, r.coefficient, r.value, r.ci_low, r.ci_high, r.n]
                                 for r in report.rows))


# --- sweep -------------------------------------------------------------------------------------

SCORE_FIELDS = ["model", "variant", "method", "level", "metric", "score", "ci_low", "ci_high", "n_questions",
                "n_scored", "n_failed", "n_missing", "failure_policy", "run"]


def sweep_csv(table: SweepTable) -> str:
    """The tidy table: one row per cell x method x level x metric, a column per setting."""
    axes = list(table.axes)
    return csv_text(["cell", *axes, *SCORE_FIELDS],
                    ([r.cell, *(r.settings.get(a) for a in axes), *(getattr(r, f) for f in SCORE_FIELDS)]
                     for r in table.rows))


def sweep_text(table: SweepTable, width: int = 160) -> str:
    """Cells x (method, level): the main score of each, with its interval."""
    metrics = {r.method: ("rmse" if r.method == "rating" else table.metric) for r in table.rows}
    columns = sorted({(r.method, r.level) for r in table.rows if r.metric == metrics[r.method]},
                     key=lambda c: (_ORDER.get(c[0], 9), _ORDER.get(c[1], 9)))
    cells = list(dict.fromkeys(r.cell for r in table.rows))
    value = {(r.cell, r.method, r.level): r for r in table.rows if r.metric == metrics[r.method]}
    header = ["cell", *("rating rmse" if m == "rating" else f"{lv} {m}" for m, lv in columns)]
    rows = []
    for cell in cells:
        line = [cell]
        for m, lv in columns:
            r = value.get((cell, m, lv))
            line.append("-" if r is None else f"{_f(r.score)} {_ci(r.ci_low, r.ci_high)}")
        rows.append(line)
    caption = f"{table.model}, {table.mode}; base: " + ", ".join(f"{k}={v}" for k, v in table.base.items())
    return render_text(_table(f"Sweep ({table.metric}, 95% bootstrap CI)", header, rows,
                              caption="\n".join([caption, *table.notes])), width)


_ORDER = {"easy": 0, "medium": 1, "hard": 2, "point": 0, "pair": 1, "list": 2, "rating": 3, "all": 3}


# --- breakdown ---------------------------------------------------------------------------------

BREAKDOWN_FIELDS = ["by", "group", "rank", "low", "high", *SCORE_FIELDS]


def breakdown_csv(table: BreakdownTable) -> str:
    return csv_text(BREAKDOWN_FIELDS, ([getattr(r, f) for f in BREAKDOWN_FIELDS] for r in table.rows))


def _cell(r: Any) -> str:
    return "-" if r is None else f"{_f(r.score)}\n{_ci(r.ci_low, r.ci_high)}\nn={r.n_questions}"


def breakdown_text(table: BreakdownTable, width: int = 180) -> str:
    """A pivot: a row per model (x method x level x metric), a column per group, each cell
    the score, its 95% interval and its number of questions."""
    def col(r: Any) -> str:
        return r.method if table.by == "method" else r.group

    def row(r: Any) -> tuple[str, ...]:
        if table.by == "method":
            return (r.label, r.metric)
        if table.by == "level":
            return (r.label, r.method, r.metric)
        return (r.label, r.method, r.level, r.metric)

    keys = {"method": ["model", "metric"], "level": ["model", "method", "metric"]}.get(
        table.by, ["model", "method", "level", "metric"])
    order = {"point": 0, "pair": 1, "list": 2, "rating": 3}
    if table.by == "method":
        columns = sorted({col(r) for r in table.rows}, key=lambda m: order.get(m, 9))
    else:
        columns = [g for _, g in sorted({(r.rank, r.group) for r in table.rows})]
    cells: dict[tuple[str, ...], dict[str, Any]] = {}
    for r in table.rows:
        cells.setdefault(row(r), {})[col(r)] = r
    levels = {"easy": 0, "medium": 1, "hard": 2, "all": 3, "rating": 4}

    def sort_key(key: tuple[str, ...]) -> tuple:
        return tuple(order.get(k, levels.get(k, 9)) if i else k for i, k in enumerate(key[:-1])) + (key[-1],)

    lines = []
    for key, by_col in sorted(cells.items(), key=lambda kv: sort_key(kv[0])):
        lines.append([*key, *(_cell(by_col.get(c)) for c in columns)])
    caption = [*([f"exposure: {table.exposure_source}"] if table.exposure_source else []), *table.notes]
    return render_text(_table(f"Scores by {table.by} (95% bootstrap CI, questions)", [*keys, *columns], lines,
                              caption="\n".join(caption), right=columns), width)
