"""Bootstrap CI and paired sign-flip test: hand-computed values, reproducibility."""

from __future__ import annotations

import math

import numpy as np
import pytest

from perrecbench.score import stats


def test_bootstrap_ci_two_values_hand_computed():
    # means of resamples of [0, 1] are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4
    lo, hi = stats.bootstrap_ci(
        [0.0, 1.0], n_resamples=4000, alpha=0.05, rng=np.random.default_rng(1)
    )
    assert (lo, hi) == (0.0, 1.0)
    # the 30% and 70% quantiles both fall on 0.5
    lo, hi = stats.bootstrap_ci(
        [0.0, 1.0], n_resamples=4000, alpha=0.6, rng=np.random.default_rng(1)
    )
    assert (lo, hi) == (0.5, 0.5)


def test_bootstrap_ci_reproducible_and_contains_mean():
    values = np.random.default_rng(7).normal(0.1, 0.5, size=200)
    a = stats.bootstrap_ci(values, rng=np.random.default_rng(0))
    b = stats.bootstrap_ci(values, rng=np.random.default_rng(0))
    c = stats.bootstrap_ci(values, rng=np.random.default_rng(1))
    assert a == b
    assert a != c
    assert a[0] < values.mean() < a[1]
    # about 2 standard errors each side
    se = values.std(ddof=1) / math.sqrt(values.size)
    assert a[1] - a[0] == pytest.approx(2 * 1.96 * se, rel=0.2)
    assert stats.bootstrap_ci(values, rng=0) == a  # a seed works as well as a Generator


def test_bootstrap_means_chunking_matches_single_pass(monkeypatch):
    values = np.arange(10.0)
    full = stats.bootstrap_means(values, 50, np.random.default_rng(3))
    monkeypatch.setattr(stats, "_CHUNK_CELLS", 30)  # 3 resamples per chunk
    chunked = stats.bootstrap_means(values, 50, np.random.default_rng(3))
    assert full.shape == chunked.shape == (50,)
    assert np.all((chunked >= 0) & (chunked <= 9))


def test_bootstrap_ci_edge_cases():
    assert all(math.isnan(v) for v in stats.bootstrap_ci([], rng=0))
    assert stats.bootstrap_ci([0.25], rng=0) == (0.25, 0.25)
    assert stats.bootstrap_ci([0.3] * 5, rng=0) == pytest.approx((0.3, 0.3))
    with pytest.raises(ValueError):
        stats.bootstrap_ci([1.0, 2.0], alpha=1.5, rng=0)


def test_global_rng_untouched():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    stats.bootstrap_ci([0.0, 1.0, 2.0], rng=5)
    stats.paired_comparison([1.0] * 20, [0.0] * 20, rng=5)
    assert np.array_equal(np.random.get_state()[1], before)


def test_paired_identical_runs():
    a = [0.2, -1.0, 1.0, 0.0, 0.5]
    res = stats.paired_comparison(a, a, rng=np.random.default_rng(0))
    assert res.mean_diff == 0.0
    assert res.p_value == 1.0
    assert (res.ci_low, res.ci_high) == (0.0, 0.0)
    assert res.n == 5 and res.exact
    big = list(np.linspace(-1, 1, 40))
    res = stats.paired_comparison(big, big, rng=np.random.default_rng(0))
    assert res.p_value == 1.0 and not res.exact


def test_paired_exact_p_hand_computed():
    # all 5 differences +1: only all-plus and all-minus flips reach |mean| = 1 -> 2/32
    res = stats.paired_comparison([1.0] * 5, [0.0] * 5, rng=0)
    assert res.p_value == pytest.approx(2 / 32)
    assert res.mean_diff == 1.0 and res.exact
    # diffs [2, 1]: flips give |mean| 1.5, 0.5, 0.5, 1.5 -> p = 2/4
    assert stats.sign_flip_p_value([2.0, 1.0]) == (0.5, True)
    # 16 pairs: still exact
    p, exact = stats.sign_flip_p_value([1.0] * 16)
    assert exact and p == pytest.approx(2 / 2**16)


def test_paired_clearly_different_monte_carlo():
    rng = np.random.default_rng(11)
    a = rng.normal(0.5, 0.2, size=100)
    b = rng.normal(0.0, 0.2, size=100)
    res = stats.paired_comparison(a, b, rng=np.random.default_rng(0), n_resamples=2000)
    assert not res.exact
    assert res.p_value == pytest.approx(1 / 2001)  # no flip reaches the observed mean
    assert res.ci_low > 0.3 and res.ci_high < 0.7
    again = stats.paired_comparison(a, b, rng=np.random.default_rng(0), n_resamples=2000)
    assert again == res


def test_paired_noise_is_not_significant():
    rng = np.random.default_rng(2)
    a = rng.normal(0, 1, size=60)
    b = a + rng.normal(0, 0.01, size=60)
    res = stats.paired_comparison(a, b, rng=0, n_resamples=2000)
    assert res.p_value > 0.05
    assert res.ci_low < 0 < res.ci_high


def test_paired_edge_cases():
    res = stats.paired_comparison([], [], rng=0)
    assert res.n == 0 and res.p_value == 1.0 and math.isnan(res.mean_diff)
    with pytest.raises(ValueError):
        stats.paired_comparison([1.0], [1.0, 2.0], rng=0)


def test_cluster_weights_sum_to_clusters():
    w = stats.cluster_weights(7, 30, np.random.default_rng(0))
    assert w.shape == (30, 7)
    assert np.all(w.sum(axis=1) == 7)
