"""Score rows from loaded runs: one `ScoreRow` per (run, level, metric) of `metric_table`.

Every row bootstraps with a fresh Generator seeded by `seed`, so a row does not depend
on which other runs are scored alongside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..constants import RATING
from ..errors import ConfigError
from ..records import ScoreRow
from ..run.costs import cost_series
from . import stats
from .metric_table import COSTS, EXTRA, POOLED, TAU, TAU_METRICS, PooledMetric, QuestionMetric
from .outcomes import Outcome, outcomes
from .runs import LoadedRun


def question_value(o: Outcome, metric: QuestionMetric, method: str) -> float | None:
    """One question's value; None = skipped (metrics whose failure policy skips)."""
    if o.status != "ok" or o.prediction is None:
        return metric.on_failure
    return metric.value(o.question, o.prediction, method)


def _row(run: LoadedRun, level: str, metric: str, outs: list[Outcome], score: float,
         ci: tuple[float, float], n_scored: int, policy: str) -> ScoreRow:
    return ScoreRow(
        model=run.model, method=run.method, level=level, metric=metric, score=score,
        ci_low=ci[0], ci_high=ci[1], n_questions=len(outs),
        n_failed=sum(o.status == "failed" for o in outs), n_missing=sum(o.status == "missing" for o in outs),
        n_scored=n_scored, failure_policy=policy, run=str(run.path), variant=run.variant,
    )


def question_row(run: LoadedRun, level: str, metric: QuestionMetric, outs: list[Outcome],
                 n_resamples: int, seed: int) -> ScoreRow:
    values = [question_value(o, metric, run.method) for o in outs]
    kept = [v for v in values if v is not None]
    score = float(np.mean(kept)) if kept else math.nan
    ci = stats.bootstrap_ci(kept, n_resamples=n_resamples, rng=np.random.default_rng(seed))
    return _row(run, level, metric.name, outs, score, ci, len(kept), metric.policy)


def pooled_rows(run: LoadedRun, level: str, outs: list[Outcome], n_resamples: int, seed: int) -> list[ScoreRow]:
    """The pooled metrics of the run's method; CIs resample whole questions."""
    answered = [o for o in outs if o.status == "ok" and o.prediction is not None]
    rows = []
    for metric in (m for m in POOLED.values() if run.method in m.methods):
        rows.append(_pooled_row(run, level, metric, outs, answered, n_resamples, seed))
    return rows


def _pooled_row(run: LoadedRun, level: str, metric: PooledMetric, outs: list[Outcome],
                answered: list[Outcome], n_resamples: int, seed: int) -> ScoreRow:
    qidx: list[int] = []
    pred: list[float] = []
    true: list[float] = []
    for k, o in enumerate(answered):
        assert o.prediction is not None
        for predicted, actual in metric.members(o.question, o.prediction):
            qidx.append(k)
            pred.append(predicted)
            true.append(actual)
    weights = stats.cluster_weights(len(answered), n_resamples, np.random.default_rng(seed))
    w = weights[:, qidx] if answered else np.zeros((n_resamples, 0))
    p, t = np.asarray(pred, dtype=float), np.asarray(true, dtype=float)
    score = metric.point(p, t)
    ci = stats.percentile_ci(metric.resampled(w, p, t))
    return _row(run, level, metric.name, outs, score, ci, len(answered), metric.policy)


def cost_rows(run: LoadedRun, level: str, outs: list[Outcome], n_resamples: int, seed: int) -> list[ScoreRow]:
    """`cost_series` of the level's answered questions, as rows with bootstrap CIs."""
    answered = [o.prediction for o in outs if o.prediction is not None]
    rows = []
    for name, values in cost_series(answered, run.method).items():
        ci = stats.bootstrap_ci(values, n_resamples=n_resamples, rng=np.random.default_rng(seed))
        score = float(np.mean(values)) if values else math.nan
        rows.append(_row(run, level, name, outs, score, ci, len(values), COSTS[name][1]))
    return rows


def score_run(run: LoadedRun, metric: str = "tau-b", n_resamples: int = 1000, seed: int = 0,
              extra: bool = True) -> list[ScoreRow]:
    """Rows for every level of the run: the tau metric, then (with `extra`) the other
    per-question metrics, the pooled metrics of its method and what answering cost.
    A rating run has no tau: its rows are MAE, RMSE and accuracy (and costs)."""
    if metric not in TAU:
        raise ConfigError(f"unknown metric {metric!r}; choose from {', '.join(TAU_METRICS)}")
    rows = []
    for level in run.levels:
        outs = outcomes(run, level)
        if run.method == RATING:  # one member per question: no order to score, only ratings
            rows.extend(pooled_rows(run, level, outs, n_resamples, seed))
            rows.extend(cost_rows(run, level, outs, n_resamples, seed) if extra else [])
            continue
        rows.append(question_row(run, level, TAU[metric], outs, n_resamples, seed))
        if extra:
            rows.extend(question_row(run, level, m, outs, n_resamples, seed) for m in EXTRA.values())
            rows.extend(pooled_rows(run, level, outs, n_resamples, seed))
            rows.extend(cost_rows(run, level, outs, n_resamples, seed))
    return rows


def score_runs(runs: Sequence[LoadedRun], metric: str = "tau-b", n_resamples: int = 1000, seed: int = 0,
               extra: bool = True) -> list[ScoreRow]:
    out: list[ScoreRow] = []
    for run in runs:
        out.extend(score_run(run, metric, n_resamples, seed, extra))
    return out
