"""Bootstrap confidence intervals and a paired significance test.

Every function takes an explicit `numpy.random.Generator` (or a seed for one), so
results are reproducible under a fixed seed and no global RNG state is touched.
Resampling is vectorised and chunked to bound memory.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: exact sign-flip enumeration up to this many pairs (2**16 = 65536 assignments)
EXACT_MAX_N = 16
_CHUNK_CELLS = 4_000_000  # resample matrix cells per chunk (~32 MB of float64)


def make_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A Generator from a Generator, a seed, or None (seed 0: reproducible by default)."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(0 if rng is None else rng)


def _chunks(total: int, width: int) -> list[int]:
    size = max(1, _CHUNK_CELLS // max(1, width))
    return [min(size, total - start) for start in range(0, total, size)]


def bootstrap_means(
    values: Sequence[float], n_resamples: int, rng: np.random.Generator | int | None = None
) -> np.ndarray:
    """Means of `n_resamples` resamples (with replacement, same size) of `values`."""
    x = np.asarray(values, dtype=float)
    gen = make_rng(rng)
    if x.size == 0 or n_resamples <= 0:
        return np.empty(0)
    out = []
    for size in _chunks(n_resamples, x.size):
        idx = gen.integers(0, x.size, size=(size, x.size))
        out.append(x[idx].mean(axis=1))
    return np.concatenate(out)


def bootstrap_ci(
    values: Sequence[float],
    n_resamples: int = 1000,
    alpha: float = 0.05,
    rng: np.random.Generator | int | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap (1 - alpha) interval of the mean of `values`.

    The interval is the alpha/2 and 1 - alpha/2 quantiles of the resampled means.
    Empty input: (NaN, NaN). One value or constant values: (v, v).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    means = bootstrap_means(values, n_resamples, rng)
    if means.size == 0:
        x = np.asarray(values, dtype=float)
        if x.size == 0:
            return (math.nan, math.nan)
        m = float(x.mean())
        return (m, m)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return (float(lo), float(hi))


def cluster_weights(
    n_clusters: int, n_resamples: int, rng: np.random.Generator | int | None = None
) -> np.ndarray:
    """Bootstrap weights (n_resamples x n_clusters): how often each cluster is drawn.

    For statistics pooled over the members of questions (MAE, Pearson): resampling
    questions, not members, keeps each question's users together.
    """
    gen = make_rng(rng)
    if n_clusters == 0:
        return np.zeros((n_resamples, 0))
    return gen.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=n_resamples)


@dataclass(frozen=True)
class PairedResult:
    """Paired comparison of two systems on the same questions (a - b)."""

    mean_diff: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    exact: bool  # p-value from full enumeration (n <= 16) rather than Monte Carlo

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sign_flip_p_value(
    diffs: Sequence[float], n_resamples: int = 10000, rng: np.random.Generator | int | None = None
) -> tuple[float, bool]:
    """Two-sided paired permutation test of mean(diffs) = 0 by random sign flips.

    p = share of sign assignments whose |mean| is at least the observed |mean|.
    n <= 16: all 2**n assignments are enumerated (exact). Otherwise Monte Carlo with
    the add-one estimate (1 + hits) / (1 + n_resamples), which is never 0.
    Returns (p, exact). Empty input: (1.0, True).
    """
    d = np.asarray(diffs, dtype=float)
    n = d.size
    if n == 0:
        return (1.0, True)
    observed = abs(float(d.mean()))
    tol = 1e-12 * max(1.0, observed)
    if n <= EXACT_MAX_N:
        codes = np.arange(2**n, dtype=np.int64)[:, None]
        signs = 1.0 - 2.0 * ((codes >> np.arange(n, dtype=np.int64)) & 1)
        means = np.abs(signs @ d) / n
        return (float(np.mean(means >= observed - tol)), True)
    gen = make_rng(rng)
    hits = 0
    for size in _chunks(n_resamples, n):
        signs = gen.choice(np.array([-1.0, 1.0]), size=(size, n))
        hits += int(np.sum(np.abs(signs @ d) / n >= observed - tol))
    return ((1 + hits) / (1 + n_resamples), False)


def paired_comparison(
    a: Sequence[float],
    b: Sequence[float],
    rng: np.random.Generator | int | None = None,
    n_resamples: int = 1000,
    alpha: float = 0.05,
) -> PairedResult:
    """Mean difference a - b over paired values, its bootstrap CI, and a sign-flip p-value.

    Identical inputs give diff 0 and p = 1. The same `n_resamples` drives the
    bootstrap and (for n > 16) the Monte Carlo permutation test.
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"paired comparison needs equal lengths, got {x.size} and {y.size}")
    gen = make_rng(rng)
    d = x - y
    if d.size == 0:
        return PairedResult(math.nan, math.nan, math.nan, 1.0, 0, True)
    lo, hi = bootstrap_ci(d, n_resamples=n_resamples, alpha=alpha, rng=gen)
    p, exact = sign_flip_p_value(d, n_resamples=n_resamples, rng=gen)
    return PairedResult(float(d.mean()), lo, hi, p, int(d.size), exact)


# --- pooled statistics under cluster weights (MAE, RMSE, Pearson over members of questions) --


def percentile_ci(samples: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    """The alpha/2 and 1 - alpha/2 quantiles of the finite samples; (NaN, NaN) when none."""
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return (math.nan, math.nan)
    lo, hi = np.quantile(samples, [alpha / 2, 1 - alpha / 2])
    return (float(lo), float(hi))


def weighted_mean(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per row of weights `w` (resamples x values), the weighted mean of `x`; NaN for a row
    of zero weight."""
    if x.size == 0:
        return np.empty(0)
    sw = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sw > 0, (w @ x) / sw, np.nan)


def weighted_pearson(w: np.ndarray, p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Pearson per row of weights `w` (resamples x members); constant sides give 0."""
    if p.size == 0:
        return np.empty(0)
    sw = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mp, mt = (w @ p) / sw, (w @ t) / sw
        cov = (w @ (p * t)) / sw - mp * mt
        vp = (w @ (p * p)) / sw - mp**2
        vt = (w @ (t * t)) / sw - mt**2
        denom = np.sqrt(np.clip(vp, 0, None) * np.clip(vt, 0, None))
        r = np.where(denom > 1e-12, cov / denom, 0.0)
    return np.where(sw > 0, np.clip(r, -1.0, 1.0), np.nan)
