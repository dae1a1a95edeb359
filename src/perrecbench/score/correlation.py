"""Does rating-prediction error say whether a model understands preference? (SPEC 5, 6b)

Across models: each model's preference score (the mean of its 9 tau cells, or one cell)
against its rating-prediction errors (MAE, RMSE, rounded-rating accuracy of the rating
task), as Pearson, Spearman and Kendall (tau-b) coefficients with a 95% percentile
bootstrap interval over models and the number of models. Per group: within one model,
each group's mean absolute rating error on its members (those the rating sample holds)
against the model's tau on that group (the mean over the methods it answered with),
with an interval over groups.

Models are matched by their leaderboard label (model and variant) or, with
`match="model"`, by the model name alone (rating runs made with another prompt set).
`baseline/oracle` reads the truth -- zero error and tau 1 -- so it would decide any
correlation by itself; it is left out unless asked for, and the report says so.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np

from ..constants import METHODS, RATING
from ..errors import ConfigError
from ..records import ScoreRow
from ..records.analysis import CorrelationReport, CorrelationRow, GroupPoint, ModelPoint
from . import stats
from .averages import reads_truth
from .metric_table import TAU, TAU_METRICS
from .outcomes import outcomes
from .runs import LoadedRun
from .scoring import question_value, score_run

COEFFICIENTS = ("pearson", "spearman", "kendall")
ERRORS = ("mae", "rmse", "acc")
MATCHES = ("label", "model")


# --- coefficients (pure) -------------------------------------------------------------------


def _rowwise_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson per row of two (resamples x n) arrays; NaN where a side is constant."""
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    den = np.sqrt((xc * xc).sum(axis=1) * (yc * yc).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 1e-12, (xc * yc).sum(axis=1) / den, np.nan)
    return np.clip(r, -1.0, 1.0)


#: up to this many values per row, Kendall's tau is computed on all pairs at once
_PAIRWISE_MAX_N = 64


def _rowwise_kendall(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall tau-b per row over all pairs: (C - D) / sqrt((P - T_x)(P - T_y)), P pairs,
    T_x / T_y the pairs tied in x / in y (as `scipy.stats.kendalltau`); NaN when a side
    is constant."""
    i, j = np.triu_indices(x.shape[1], 1)
    dx, dy = np.sign(x[:, i] - x[:, j]), np.sign(y[:, i] - y[:, j])
    pairs = i.size
    den = np.sqrt((pairs - (dx == 0).sum(axis=1)) * (pairs - (dy == 0).sum(axis=1)).astype(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (dx * dy).sum(axis=1) / den, np.nan)


def _rowwise(name: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The coefficient per row (resample); NaN where it is undefined."""
    from scipy.stats import kendalltau, rankdata

    if name == "pearson":
        return _rowwise_pearson(x, y)
    if name == "spearman":  # Pearson of average ranks
        return _rowwise_pearson(rankdata(x, axis=1), rankdata(y, axis=1))
    if name == "kendall":
        if x.shape[1] <= _PAIRWISE_MAX_N:
            return _rowwise_kendall(x, y)
        out = np.empty(x.shape[0])  # many values: scipy's O(n log n) per row
        for i in range(x.shape[0]):
            if np.ptp(x[i]) == 0 or np.ptp(y[i]) == 0:
                out[i] = np.nan
            else:
                out[i] = float(kendalltau(x[i], y[i]).statistic)
        return out
    raise ConfigError(f"unknown coefficient {name!r}; choose from {', '.join(COEFFICIENTS)}")


def coefficient(name: str, x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson, Spearman or Kendall tau-b of two equal-length series. Undefined (fewer
    than 2 values, or a constant side): NaN -- unlike a per-question tau there is no
    chance value to stand in for a correlation that cannot be computed."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xa.shape != ya.shape:
        raise ValueError(f"length mismatch: {xa.size} vs {ya.size}")
    if xa.size < 2:
        return math.nan
    return float(_rowwise(name, xa[None, :], ya[None, :])[0])


def correlation(name: str, x: Sequence[float], y: Sequence[float], n_resamples: int = 1000,
                seed: int = 0) -> tuple[float, float, float]:
    """(coefficient, 95% CI low, high): the percentile bootstrap resamples the pairs
    (x_i, y_i) with replacement; resamples where the coefficient is undefined are left
    out of the interval (with 3 models, many are)."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    value = coefficient(name, list(xa), list(ya))
    if xa.size < 2 or n_resamples < 1:
        return value, math.nan, math.nan
    idx = np.random.default_rng(seed).integers(0, xa.size, size=(n_resamples, xa.size))
    lo, hi = stats.percentile_ci(_rowwise(name, xa[idx], ya[idx]))
    return value, lo, hi


# --- models' points from score rows ---------------------------------------------------------


def _key(row: ScoreRow, match: str) -> str:
    return row.model if match == "model" else row.label


def _parse_cell(cell: str | None) -> tuple[str, str] | None:
    """`hard:list` -> (level, method); None or "avg" -> the 9-cell average."""
    if cell is None or cell == "avg":
        return None
    level, sep, method = cell.partition(":")
    from ..constants import LEVELS

    if not sep or level not in LEVELS or method not in METHODS:
        raise ConfigError(f"--cell {cell!r}: use LEVEL:METHOD (e.g. hard:list) or avg")
    return level, method


def preference_name(metric: str, cell: str | None) -> str:
    parsed = _parse_cell(cell)
    return f"{metric} Avg." if parsed is None else f"{metric} {parsed[0]}/{parsed[1]}"


def model_points(rows: Sequence[ScoreRow], metric: str = "tau-b", cell: str | None = None,
                 match: str = "label") -> tuple[list[ModelPoint], list[str]]:
    """Every model with both a preference score and rating errors; notes on the others."""
    if match not in MATCHES:
        raise ConfigError(f"--match {match!r}: choose from {', '.join(MATCHES)}")
    parsed = _parse_cell(cell)
    cells: dict[str, dict[tuple[str, str], ScoreRow]] = defaultdict(dict)
    errors: dict[str, dict[str, ScoreRow]] = defaultdict(dict)
    for r in rows:
        key = _key(r, match)
        if r.method == RATING and r.metric in ERRORS:
            _put(errors[key], r.metric, r, key, match)
        elif r.method in METHODS and r.metric == metric and not math.isnan(r.score):
            _put(cells[key], (r.level, r.method), r, key, match)
    points, notes = [], []
    for key in sorted(set(cells) | set(errors)):
        have, err = cells.get(key, {}), errors.get(key, {})
        chosen = [have[parsed]] if parsed is not None and parsed in have else [] if parsed else list(have.values())
        if not chosen or len(err) < len(ERRORS):
            missing = "a rating run" if len(err) < len(ERRORS) else f"a {preference_name(metric, cell)} score"
            notes.append(f"{key}: left out, it has no {missing}")
            continue
        pref = float(np.mean([r.score for r in chosen]))
        single = chosen[0] if len(chosen) == 1 and parsed is not None else None
        mae, rmse, acc = err["mae"], err["rmse"], err["acc"]
        points.append(ModelPoint(
            label=key, preference=pref, preference_ci_low=single.ci_low if single else math.nan,
            preference_ci_high=single.ci_high if single else math.nan, preference_cells=len(chosen),
            mae=mae.score, mae_ci_low=mae.ci_low, mae_ci_high=mae.ci_high, rmse=rmse.score,
            rmse_ci_low=rmse.ci_low, rmse_ci_high=rmse.ci_high, acc=acc.score, n_pairs=rmse.n_scored,
            n_failed=rmse.n_failed, runs=sorted({r.run for r in [*chosen, mae]}),
        ))
        if parsed is None and len(chosen) < 9:
            notes.append(f"{key}: Avg. over {len(chosen)} of the 9 cells")
    return points, notes


def _put(slot: dict, key: object, row: ScoreRow, who: str, match: str) -> None:
    if key in slot and slot[key].run != row.run:
        hint = "give one, or tell them apart by their variant (--match label)" if match == "model" else "give one"
        raise ConfigError(f"{who}: two runs fill the same {key} ({slot[key].run} and {row.run}); {hint}")
    slot[key] = row


def model_rows(points: Sequence[ModelPoint], preference: str, n_resamples: int, seed: int) -> list[CorrelationRow]:
    y = [p.preference for p in points]
    out = []
    for err in ERRORS:
        x = [getattr(p, err) for p in points]
        for name in COEFFICIENTS:
            value, lo, hi = correlation(name, x, y, n_resamples, seed)
            out.append(CorrelationRow(view="models", x=err, y=preference, coefficient=name, value=value,
                                      ci_low=lo, ci_high=hi, n=len(points)))
    return out


# --- per group --------------------------------------------------------------------------------


def group_points(runs: Sequence[LoadedRun], key: Callable[[LoadedRun], str], metric: str = "tau-b",
                 cell: str | None = None) -> list[GroupPoint]:
    """Per model and group: mean absolute rating error on the group's members that the
    model's rating run predicted (ok answers), and the model's mean tau on the group
    over the preference runs given (one cell's with `cell`); groups without a rated
    member are left out."""
    parsed = _parse_cell(cell)
    spec = TAU[metric]
    errors: dict[str, dict[tuple[str, str], float]] = defaultdict(dict)
    for run in runs:
        if run.method != RATING:
            continue
        for o in outcomes(run, RATING):
            if o.status == "ok" and o.prediction is not None and o.prediction.ratings:
                (m,) = o.question.users
                predicted = o.prediction.ratings[0]
                assert predicted is not None  # ok answers carry their rating
                errors[key(run)][(m.user_id, o.question.item_id)] = abs(float(predicted) - m.rating)
    taus: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    found: dict[tuple[str, str, str], list[float]] = {}
    for run in runs:
        k = key(run)
        if run.method == RATING or k not in errors:
            continue
        for level in run.levels:
            if parsed is not None and (level, run.method) != parsed:
                continue
            for o in outcomes(run, level):
                value = question_value(o, spec, run.method)
                if value is None:
                    continue
                errs = [errors[k][(m.user_id, o.question.item_id)] for m in o.question.users
                        if (m.user_id, o.question.item_id) in errors[k]]
                if errs:
                    taus[(k, level, o.question.id)].append(value)
                    found[(k, level, o.question.id)] = errs
    return [GroupPoint(model=k, level=level, question_id=qid, error=float(np.mean(found[(k, level, qid)])),
                       tau=float(np.mean(values)), n_members=len(found[(k, level, qid)]), n_methods=len(values))
            for (k, level, qid), values in sorted(taus.items())]


def group_rows(points: Sequence[GroupPoint], metric: str, n_resamples: int, seed: int) -> list[CorrelationRow]:
    by_model: dict[str, list[GroupPoint]] = defaultdict(list)
    for p in points:
        by_model[p.model].append(p)
    if len(by_model) > 1:
        by_model["all models"] = list(points)
    out = []
    for model, pts in by_model.items():
        for name in COEFFICIENTS:
            value, lo, hi = correlation(name, [p.error for p in pts], [p.tau for p in pts], n_resamples, seed)
            out.append(CorrelationRow(view="groups", model=model, x="abs error", y=metric, coefficient=name,
                                      value=value, ci_low=lo, ci_high=hi, n=len(pts)))
    return out


# --- the whole analysis -------------------------------------------------------------------------


def correlate(runs: Sequence[LoadedRun], metric: str = "tau-b", cell: str | None = None, match: str = "label",
              include_oracle: bool = False, n_resamples: int = 1000, seed: int = 0) -> CorrelationReport:
    """The correlation report of preference and rating runs scored together."""
    if metric not in TAU_METRICS:
        raise ConfigError(f"unknown metric {metric!r}; choose from {', '.join(TAU_METRICS)}")
    if match not in MATCHES:
        raise ConfigError(f"--match {match!r}: choose from {', '.join(MATCHES)}")
    excluded = sorted({r.model for r in runs if reads_truth(r.model)}) if not include_oracle else []
    kept = [r for r in runs if r.model not in excluded]
    rows: list[ScoreRow] = []
    for run in kept:
        rows.extend(score_run(run, metric, n_resamples, seed, extra=run.method == RATING))
    points, notes = model_points(rows, metric, cell, match)
    if not points:
        raise ConfigError("no model has both a preference run and a rating run (perrecbench run --method "
                          "point,pair,list,rating) among the runs given" + (f"; {'; '.join(notes)}" if notes else ""))
    preference = preference_name(metric, cell)
    wanted = {p.label for p in points}

    def key(run: LoadedRun) -> str:
        return run.model if match == "model" else (f"{run.model} [{run.variant}]" if run.variant else run.model)

    groups = group_points([r for r in kept if key(r) in wanted], key, metric, cell)
    if excluded:
        notes.append(f"left out: {', '.join(excluded)} (reads the truth: zero error and tau 1 would decide "
                     "the correlation by itself; --include-oracle keeps it)")
    if len(points) >= 2:
        best_err = min(points, key=lambda p: p.rmse)
        best_pref = max(points, key=lambda p: p.preference)
        same = "the same model" if best_err.label == best_pref.label else "not the same model"
        notes.append(f"lowest RMSE: {best_err.label} ({best_err.rmse:.3f}); highest {preference}: "
                     f"{best_pref.label} ({best_pref.preference:.3f}) -- {same}")
    if len(points) < 4:
        notes.append(f"only {len(points)} models: the across-model coefficients are very uncertain")
    return CorrelationReport(
        metric=metric, preference=preference, match=match, points=points,
        rows=model_rows(points, preference, n_resamples, seed) + group_rows(groups, metric, n_resamples, seed),
        groups=groups, excluded=excluded, notes=notes,
    )
