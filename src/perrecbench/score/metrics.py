"""Per-question metrics as pure functions. Inputs are never mutated.

Conventions: "scores" are per member in member order, higher = likes the item more;
an "order" is best-first 0-based member indices; "ids" are best-first 1-based ids
(the authors' release format). Every function documents its tie policy and the value
it returns where the metric is undefined, so a table never silently holds NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def order_to_scores(order: Sequence[int]) -> list[float]:
    """Per-member scores from a best-first order: member at position p scores -p."""
    scores = [0.0] * len(order)
    for pos, idx in enumerate(order):
        scores[idx] = -float(pos)
    return scores


def tau_b(pred_scores: Sequence[float], true_scores: Sequence[float]) -> float:
    """Kendall tau-b between two per-member score vectors.

    tau_b = (C - D) / sqrt((P - T_x) * (P - T_y)), with P = n(n-1)/2 pairs, C/D the
    concordant/discordant pairs, T_x/T_y the pairs tied in x/y (a pair tied in both
    counts in both), as in `scipy.stats.kendalltau(variant="b")`.
    Ties: exact float equality. Undefined (n < 2, or one side all ties): returns 0.0,
    the chance value, where scipy returns NaN.
    """
    if len(pred_scores) != len(true_scores):
        raise ValueError(
            f"length mismatch: {len(pred_scores)} predicted vs {len(true_scores)} true"
        )
    n = len(pred_scores)
    con = dis = tie_x = tie_y = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx = pred_scores[i] - pred_scores[j]
            dy = true_scores[i] - true_scores[j]
            if dx == 0:
                tie_x += 1
            if dy == 0:
                tie_y += 1
            if dx == 0 or dy == 0:
                continue
            if (dx > 0) == (dy > 0):
                con += 1
            else:
                dis += 1
    pairs = n * (n - 1) // 2
    denom = (pairs - tie_x) * (pairs - tie_y)
    if denom <= 0:
        return 0.0
    return (con - dis) / math.sqrt(denom)


def tau_b_order(pred_order: Sequence[int], true_scores: Sequence[float]) -> float:
    """Tau-b of an order-only prediction: the order becomes scores (position p -> -p)."""
    return tau_b(order_to_scores(pred_order), true_scores)


def official_true_ids(relative_ratings: Sequence[float]) -> list[int]:
    """The released evaluator's true order: `numpy.argsort(rel)[::-1] + 1`.

    Default argsort kind, then reversed: among equal ratings the result depends on
    numpy's sort (on small inputs usually the *later* member comes first).
    """
    return [int(i) for i in np.argsort(np.asarray(relative_ratings, dtype=float))[::-1] + 1]


def official_point_ids(pred_ratings: Sequence[float], avg_ratings: Sequence[float]) -> list[int]:
    """The released evaluator's order for pointwise answers: argsort(pred - avg) reversed, 1-based."""
    rel = np.asarray(pred_ratings, dtype=float) - np.asarray(avg_ratings, dtype=float)
    return [int(i) for i in np.argsort(rel)[::-1] + 1]


def official_v1(pred_ids_best_first: Sequence[int], true_ids_best_first: Sequence[int]) -> float:
    """The released evaluator, defect included: `scipy.stats.kendalltau(pred_ids, true_ids)`.

    Tau between the two *id lists* (1-based, best first), not between per-user
    positions. Equals `tau_b` on positions for 2 users; differs for 3-4 users
    (e.g. [3,1,2] vs [1,3,2]: -1 here, +1/3 on positions). Ties cannot occur in id
    lists of permutations. Undefined (n < 2, or scipy NaN): 0.0.
    """
    from scipy.stats import kendalltau

    if len(pred_ids_best_first) != len(true_ids_best_first):
        raise ValueError(
            f"length mismatch: {len(pred_ids_best_first)} predicted vs {len(true_ids_best_first)} true ids"
        )
    if len(pred_ids_best_first) < 2:
        return 0.0
    value = float(kendalltau(list(pred_ids_best_first), list(true_ids_best_first)).statistic)
    return 0.0 if math.isnan(value) else value


def ranks_by_user(ids_best_first: Sequence[int]) -> list[int] | None:
    """A best-first list of 1-based ids as 1-based positions indexed by user:
    `[3, 1, 2]` -> `[2, 3, 1]` (user 1 is second, user 2 third, user 3 first).
    None when the list is not a permutation of 1..n."""
    n = len(ids_best_first)
    if sorted(ids_best_first) != list(range(1, n + 1)):
        return None
    ranks = [0] * n
    for pos, uid in enumerate(ids_best_first, 1):
        ranks[uid - 1] = pos
    return ranks


def official_v2(pred_ids_best_first: Sequence[int], true_ids_best_first: Sequence[int]) -> float | None:
    """The authors' corrected evaluator: Kendall tau between per-user rank vectors.

    Both best-first id lists become positions indexed by user (`ranks_by_user`) before
    `scipy.stats.kendalltau`, so `[3,1,2]` vs `[1,3,2]` gives +1/3 (`official_v1`: -1).
    A list that is not a permutation of 1..n is skipped: None. Undefined (n < 2): 0.0.
    """
    from scipy.stats import kendalltau

    if len(pred_ids_best_first) != len(true_ids_best_first):
        raise ValueError(
            f"length mismatch: {len(pred_ids_best_first)} predicted vs {len(true_ids_best_first)} true ids"
        )
    pred, true = ranks_by_user(pred_ids_best_first), ranks_by_user(true_ids_best_first)
    if pred is None or true is None:
        return None
    if len(pred) < 2:
        return 0.0
    value = float(kendalltau(pred, true).statistic)
    return 0.0 if math.isnan(value) else value


def exact_order(pred_order: Sequence[int], true_order: Sequence[int]) -> float:
    """1.0 when the predicted best-first order equals the true one, else 0.0 (empty: 1.0)."""
    return 1.0 if list(pred_order) == list(true_order) else 0.0


def pairwise_accuracy(pred_scores: Sequence[float], true_scores: Sequence[float]) -> float:
    """Fraction of member pairs the prediction orders the same way as the truth.

    Only pairs with different true values count; a pair the prediction ties is not
    ordered, so it counts as wrong. No comparable pair (n < 2 or the truth all ties):
    0.5, the chance value.
    """
    if len(pred_scores) != len(true_scores):
        raise ValueError(
            f"length mismatch: {len(pred_scores)} predicted vs {len(true_scores)} true"
        )
    right = total = 0
    n = len(true_scores)
    for i in range(n):
        for j in range(i + 1, n):
            dy = true_scores[i] - true_scores[j]
            if dy == 0:
                continue
            total += 1
            dx = pred_scores[i] - pred_scores[j]
            if dx != 0 and (dx > 0) == (dy > 0):
                right += 1
    return right / total if total else 0.5


def _pair(pred: Sequence[float], true: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    if len(pred) != len(true):
        raise ValueError(f"length mismatch: {len(pred)} predicted vs {len(true)} true")
    return np.asarray(pred, dtype=float), np.asarray(true, dtype=float)


def mae(pred: Sequence[float], true: Sequence[float]) -> float:
    """Mean absolute error, mean(|pred - true|). Empty input: NaN (no error to report)."""
    p, t = _pair(pred, true)
    return float(np.mean(np.abs(p - t))) if p.size else math.nan


def rmse(pred: Sequence[float], true: Sequence[float]) -> float:
    """Root mean squared error, sqrt(mean((pred - true)^2)). Empty input: NaN."""
    p, t = _pair(pred, true)
    return float(np.sqrt(np.mean((p - t) ** 2))) if p.size else math.nan


def round_stars(x: np.ndarray | Sequence[float]) -> np.ndarray:
    """Ratings rounded to whole stars, halves up (3.5 -> 4, 2.49 -> 2), as floats."""
    return np.floor(np.asarray(x, dtype=float) + 0.5)


def rounded_accuracy(pred: Sequence[float], true: Sequence[float]) -> float:
    """Share of predictions that are right once both sides are rounded to whole stars
    (`round_stars`: a 3.6 prediction of a 4-star rating is right; on half-star data a
    3.5 rating counts as 4). Empty input: NaN."""
    p, t = _pair(pred, true)
    return float(np.mean(round_stars(p) == round_stars(t))) if p.size else math.nan


def pearson(pred: Sequence[float], true: Sequence[float]) -> float:
    """Pearson correlation cov(p, t) / (sd(p) sd(t)).

    Used pooled over users: predicted relative rating vs true relative rating.
    Undefined (fewer than 2 values, or either side constant): 0.0, where scipy
    warns and returns NaN.
    """
    p, t = _pair(pred, true)
    if p.size < 2 or np.ptp(p) == 0 or np.ptp(t) == 0:
        return 0.0
    pc, tc = p - p.mean(), t - t.mean()
    denom = math.sqrt(float(np.dot(pc, pc)) * float(np.dot(tc, tc)))
    if denom == 0.0:
        return 0.0
    return float(np.clip(np.dot(pc, tc) / denom, -1.0, 1.0))
