"""Each question a run is scored on, paired with the run's answer: ok, failed or missing.

An answer counts as failed when the model said so, or when it is not a valid answer
for its question (an order that is not a permutation of the members, scores of the
wrong length or not finite; for the rating task, a rating that is missing or not finite).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..records import Prediction
from ..types import Question
from . import metrics
from .runs import LoadedRun


@dataclass(frozen=True)
class Outcome:
    """A question and the run's answer to it: status "ok", "failed" or "missing"."""

    question: Question
    prediction: Prediction | None
    status: str


def valid(pred: Prediction, n: int) -> bool:
    """Whether an answer's order / scores / ratings fit a question of `n` members."""
    if pred.order is not None and sorted(pred.order) != list(range(n)):
        return False
    if pred.scores is not None and (
        len(pred.scores) != n
        or any(not isinstance(s, (int, float)) or not math.isfinite(s) for s in pred.scores)
    ):
        return False
    if pred.ratings is not None and len(pred.ratings) != n:
        return False
    if pred.order is None and pred.scores is None:  # a rating answer: every rating a finite number
        return pred.ratings is not None and all(
            isinstance(r, (int, float)) and math.isfinite(r) for r in pred.ratings)
    return True


def outcomes(run: LoadedRun, level: str) -> list[Outcome]:
    """Every question the run is scored on at `level`, in benchmark order, with its answer."""
    out = []
    for q in run.questions[level]:
        pred = run.predictions.get((level, q.id))
        if pred is None:
            out.append(Outcome(q, None, "missing"))
        elif not pred.ok or not valid(pred, q.n):
            out.append(Outcome(q, pred, "failed"))
        else:
            out.append(Outcome(q, pred, "ok"))
    return out


def predicted_scores(pred: Prediction, method: str) -> list[float]:
    """Per-member scores: pointwise scores (ties kept); otherwise the answer's order."""
    if method == "point" and pred.scores is not None:
        return [float(s) for s in pred.scores]
    if pred.order is not None:
        return metrics.order_to_scores(pred.order)
    return [float(s) for s in pred.scores or []]


def predicted_ids(pred: Prediction, question: Question, method: str) -> list[int]:
    """The 1-based best-first id list the released evaluator would compare."""
    if method == "point":
        if pred.ratings is not None and all(r is not None for r in pred.ratings):
            ratings = [float(r) for r in pred.ratings if r is not None]
            return metrics.official_point_ids(ratings, [m.avg_rating for m in question.users])
        if pred.scores is not None:
            return metrics.official_point_ids(pred.scores, [0.0] * question.n)
    if pred.order is not None:
        return [i + 1 for i in pred.order]
    return metrics.official_point_ids(pred.scores or [], [0.0] * question.n)
