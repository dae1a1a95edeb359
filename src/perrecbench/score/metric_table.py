"""Every metric `score` reports, as one table: adding a metric is one entry here.

Three kinds, each with its failure policy (SPEC 5: every model shares one denominator):

* per-question metrics (`QUESTIONS`): a value per answered question, averaged over the
  questions; a failed or missing answer scores `on_failure` (0, chance) or is skipped
  (None: the authors' evaluators' policy, reported as such; `failure_policy` words it);
* pooled metrics (`POOLED`): statistics over the members of the answered questions
  (MAE, RMSE, Pearson of pointwise runs; MAE, RMSE and rounded-rating accuracy of the
  rating task); failed answers have no rating and are left out of the statistic and
  counted (`n_failed`); the bootstrap resamples whole questions;
* cost metrics (`COSTS`): what answering cost, per answered question (LLM runs; the
  measures themselves are defined in `run.costs`, shared with the end-of-run summary).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..constants import RATING
from ..records import Prediction
from ..run import costs as run_costs
from ..types import Question
from . import metrics, stats
from .outcomes import predicted_ids, predicted_scores

POLICY_ZERO = "failed=0"
POLICY_SKIP = "failed=skipped"
POLICY_EXCLUDE = "failed=excluded"
POLICY_ANSWERED = "answered questions"


@dataclass(frozen=True)
class QuestionMetric:
    """A value per question; `on_failure` is the value of a failed or missing answer
    (None: such questions are skipped). `value` may return None for an answer the
    metric itself cannot score (skipped too)."""

    name: str
    value: Callable[[Question, Prediction, str], float | None]  # (question, ok answer, method)
    on_failure: float | None = 0.0
    #: whose evaluator this reproduces, for the failure policy's wording ("" = ours)
    evaluator: str = ""

    @property
    def policy(self) -> str:
        return POLICY_SKIP if self.on_failure is None else POLICY_ZERO


@dataclass(frozen=True)
class PooledMetric:
    """A statistic over (predicted, true) values of the members of answered questions."""

    name: str
    members: Callable[[Question, Prediction], list[tuple[float, float]]]
    point: Callable[[np.ndarray, np.ndarray], float]
    #: per bootstrap resample: (member weights: resamples x members, predicted, true) -> values
    resampled: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    methods: tuple[str, ...] = ("point",)
    policy: str = POLICY_EXCLUDE


# --- per question -----------------------------------------------------------------------


def _tau_b(q: Question, pred: Prediction, method: str) -> float:
    return metrics.tau_b(predicted_scores(pred, method), q.true_scores())


def _official_v1(q: Question, pred: Prediction, method: str) -> float:
    return metrics.official_v1(predicted_ids(pred, q, method), metrics.official_true_ids(q.true_scores()))


def _official_v2(q: Question, pred: Prediction, method: str) -> float | None:
    return metrics.official_v2(predicted_ids(pred, q, method), metrics.official_true_ids(q.true_scores()))


def _exact(q: Question, pred: Prediction, method: str) -> float:
    scores = predicted_scores(pred, method)
    if len(set(scores)) < len(scores):  # a tied answer is not an exact order
        return 0.0
    return metrics.exact_order(sorted(range(q.n), key=lambda i: -scores[i]), q.true_order())


def _pair_acc(q: Question, pred: Prediction, method: str) -> float:
    return metrics.pairwise_accuracy(predicted_scores(pred, method), q.true_scores())


TAU = {
    "tau-b": QuestionMetric("tau-b", _tau_b),
    "official-v1": QuestionMetric("official-v1", _official_v1, on_failure=None, evaluator="released evaluator"),
    "official-v2": QuestionMetric("official-v2", _official_v2, on_failure=None,
                                  evaluator="authors' corrected evaluator"),
}
#: reported beside the chosen tau metric
EXTRA = {
    "exact": QuestionMetric("exact", _exact),
    "pair_acc": QuestionMetric("pair_acc", _pair_acc),
}
QUESTIONS = {**TAU, **EXTRA}
TAU_METRICS = tuple(TAU)


def skips_failures(metric: str) -> bool:
    """Whether `metric` skips failed and missing answers (the authors' evaluators) rather
    than scoring them 0."""
    spec = QUESTIONS.get(metric)
    return spec is not None and spec.on_failure is None


def failure_policy(metric: str) -> str:
    """The failure policy of `metric` in words, for pages and tables."""
    spec = QUESTIONS.get(metric)
    if spec is not None and spec.on_failure is None:
        return f"failed groups skipped ({spec.evaluator})" if spec.evaluator else "failed groups skipped"
    return "a failed or missing answer scores 0"


# --- pooled over members -------------------------------------------------------------------


def _ratings(q: Question, pred: Prediction) -> list[tuple[float, float]]:
    """(predicted rating, true rating) of the members the answer rated."""
    if pred.ratings is None:
        return []
    return [(float(r), m.rating) for r, m in zip(pred.ratings, q.users, strict=True) if r is not None]


def _relatives(q: Question, pred: Prediction) -> list[tuple[float, float]]:
    """(predicted relative rating, true relative rating): the answer's scores, or its
    ratings minus the members' averages."""
    out = []
    for i, m in enumerate(q.users):
        rating = pred.ratings[i] if pred.ratings is not None else None
        if pred.scores is not None:
            out.append((float(pred.scores[i]), m.relative_rating))
        elif rating is not None:
            out.append((float(rating) - m.avg_rating, m.relative_rating))
    return out


def _pearson_point(p: np.ndarray, t: np.ndarray) -> float:
    return metrics.pearson(list(p), list(t)) if p.size else math.nan


#: methods whose answers carry ratings
RATED = ("point", RATING)

POOLED = {
    "mae": PooledMetric("mae", _ratings, lambda p, t: metrics.mae(list(p), list(t)),
                        lambda w, p, t: stats.weighted_mean(w, np.abs(p - t)), RATED),
    "rmse": PooledMetric("rmse", _ratings, lambda p, t: metrics.rmse(list(p), list(t)),
                         lambda w, p, t: np.sqrt(stats.weighted_mean(w, (p - t) ** 2)), RATED),
    "acc": PooledMetric("acc", _ratings, lambda p, t: metrics.rounded_accuracy(list(p), list(t)),
                        lambda w, p, t: stats.weighted_mean(w, (metrics.round_stars(p) == metrics.round_stars(t))
                                                             .astype(float)), (RATING,)),
    "pearson": PooledMetric("pearson", _relatives, _pearson_point, stats.weighted_pearson),
}


# --- cost (defined with the runner, which reports the same figures) ---------------------------

COSTS = {name: (measure, POLICY_ANSWERED) for name, measure in run_costs.COSTS.items()}
