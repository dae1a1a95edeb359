"""Metrics: hand-computed values, scipy agreement, properties, edge cases."""

from __future__ import annotations

import math
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import kendalltau, pearsonr

from perrecbench.score import metrics as M

values = st.lists(st.integers(min_value=-3, max_value=3).map(float), min_size=2, max_size=7)


def _pair(n_min: int = 2, n_max: int = 7):
    return st.integers(n_min, n_max).flatmap(
        lambda n: st.tuples(
            st.lists(st.integers(-3, 3).map(float), min_size=n, max_size=n),
            st.lists(st.integers(-3, 3).map(float), min_size=n, max_size=n),
        )
    )


@settings(max_examples=200, deadline=None)
@given(_pair())
def test_tau_b_matches_scipy_or_zero_when_undefined(xy):
    x, y = xy
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = kendalltau(x, y, variant="b").statistic
    ours = M.tau_b(x, y)
    if math.isnan(ref):
        assert ours == 0.0
    else:
        assert ours == pytest.approx(ref, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(_pair())
def test_tau_b_symmetric_and_bounded(xy):
    x, y = xy
    assert M.tau_b(x, y) == pytest.approx(M.tau_b(y, x))
    assert -1.0 - 1e-12 <= M.tau_b(x, y) <= 1.0 + 1e-12


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-5, 5, allow_nan=False), min_size=2, max_size=8, unique=True))
def test_tau_b_identity_and_reversal(x):
    assert M.tau_b(x, x) == pytest.approx(1.0)
    assert M.tau_b(x, [-v for v in x]) == pytest.approx(-1.0)


def test_tau_b_undefined_is_zero():
    assert M.tau_b([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) == 0.0
    assert M.tau_b([1.0], [2.0]) == 0.0
    assert M.tau_b([], []) == 0.0
    with pytest.raises(ValueError):
        M.tau_b([1.0, 2.0], [1.0])


def test_tau_b_hand_value_with_prediction_tie():
    # pairs: (0,1) tie in x; (0,2) concordant; (1,2) concordant -> (2-0)/sqrt(2*3)
    assert M.tau_b([1.0, 1.0, 0.0], [3.0, 2.0, 1.0]) == pytest.approx(2 / math.sqrt(6))


def test_spec_example_id_lists_vs_positions():
    """SPEC 5: [3,1,2] vs [1,3,2] is -1 on id lists and +1/3 on per-user positions."""
    assert M.official_v1([3, 1, 2], [1, 3, 2]) == pytest.approx(-1.0)
    pred_order, true_order = [2, 0, 1], [0, 2, 1]  # the same lists, 0-based
    true_scores = M.order_to_scores(true_order)
    assert M.tau_b_order(pred_order, true_scores) == pytest.approx(1 / 3)


def test_official_and_positions_agree_for_two_users():
    for pred in ([1, 2], [2, 1]):
        for true in ([1, 2], [2, 1]):
            pos = M.tau_b_order([i - 1 for i in pred], M.order_to_scores([i - 1 for i in true]))
            assert M.official_v1(pred, true) == pytest.approx(pos)


def test_official_true_ids_reverses_argsort():
    assert M.official_true_ids([0.5, -1.0, 1.5]) == [3, 1, 2]
    assert M.official_true_ids([-2.0, -1.0, 0.0, 1.0]) == [4, 3, 2, 1]
    tied = [0.5, 0.5, -1.0]
    assert sorted(M.official_true_ids(tied)) == [1, 2, 3]  # which of the tied comes first is numpy's


def test_official_point_ids_subtract_user_average():
    # same predicted rating, different averages: the lower-average user ranks first
    assert M.official_point_ids([4, 4], [3.0, 3.5]) == [1, 2]
    assert M.official_point_ids([3, 5], [2.0, 4.5]) == [1, 2]
    assert M.official_point_ids([2, 5], [2.0, 4.5]) == [2, 1]


def test_official_v2_authors_worked_example():
    """The authors' README ("Kendall tau calculation"): [3,1,2] vs [1,3,2] is 1/3 once
    corrected, -1 as first released."""
    assert M.official_v2([3, 1, 2], [1, 3, 2]) == pytest.approx(1 / 3)
    assert M.official_v1([3, 1, 2], [1, 3, 2]) == pytest.approx(-1.0)
    assert M.ranks_by_user([3, 1, 2]) == [2, 3, 1]


def _corrected_rule(pred_ids, true_ids):
    """The corrected rule stated independently: position of each user (index = user id
    - 1) in each best-first list, then scipy's Kendall tau of those two vectors."""
    pred_rank = [pred_ids.index(u) for u in range(1, len(pred_ids) + 1)]
    true_rank = [true_ids.index(u) for u in range(1, len(true_ids) + 1)]
    return kendalltau(pred_rank, true_rank).statistic


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 6).flatmap(lambda n: st.tuples(st.permutations(range(1, n + 1)),
                                                         st.permutations(range(1, n + 1)))))
def test_official_v2_equals_the_rule_on_random_permutations(pair):
    pred, true = pair
    assert M.official_v2(pred, true) == pytest.approx(_corrected_rule(list(pred), list(true)))


def test_official_v2_skips_what_is_not_a_permutation():
    assert M.official_v2([1, 1, 2], [1, 2, 3]) is None
    assert M.official_v2([0, 1, 2], [1, 2, 3]) is None
    assert M.ranks_by_user([1, 3]) is None
    assert M.official_v2([1], [1]) == 0.0
    with pytest.raises(ValueError):
        M.official_v2([1, 2], [1, 2, 3])


def test_official_v1_edge_cases():
    assert M.official_v1([1], [1]) == 0.0
    with pytest.raises(ValueError):
        M.official_v1([1, 2], [1, 2, 3])


def test_exact_and_pairwise_accuracy():
    assert M.exact_order([2, 0, 1], [2, 0, 1]) == 1.0
    assert M.exact_order([2, 1, 0], [2, 0, 1]) == 0.0
    # truth 3 > 2 > 1; prediction gets (0,1) wrong, (0,2) and (1,2) right
    assert M.pairwise_accuracy([1.0, 2.0, 0.0], [3.0, 2.0, 1.0]) == pytest.approx(2 / 3)
    # a predicted tie is not an ordered pair
    assert M.pairwise_accuracy([1.0, 1.0], [2.0, 1.0]) == 0.0
    # pairs tied in the truth do not count; none comparable -> 0.5
    assert M.pairwise_accuracy([3.0, 2.0, 1.0], [1.0, 1.0, 0.0]) == 1.0
    assert M.pairwise_accuracy([1.0, 2.0, 3.0], [1.0, 1.0, 0.0]) == 0.0
    assert M.pairwise_accuracy([1.0, 2.0], [1.0, 1.0]) == 0.5
    assert M.pairwise_accuracy([], []) == 0.5


def test_mae_rmse_hand_values():
    assert M.mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)
    assert M.rmse([1, 2, 3], [2, 2, 5]) == pytest.approx(math.sqrt(5 / 3))
    assert math.isnan(M.mae([], []))
    assert math.isnan(M.rmse([], []))


@settings(max_examples=100, deadline=None)
@given(_pair(3, 10))
def test_pearson_matches_scipy_or_zero(xy):
    x, y = xy
    ours = M.pearson(x, y)
    if len(set(x)) < 2 or len(set(y)) < 2:
        assert ours == 0.0
    else:
        assert ours == pytest.approx(pearsonr(x, y).statistic, abs=1e-9)


def test_pearson_edge_cases():
    assert M.pearson([0.1, 0.1, 0.1], [1.0, 2.0, 3.0]) == 0.0
    assert M.pearson([1.0], [2.0]) == 0.0
    assert M.pearson([], []) == 0.0


def test_inputs_not_mutated():
    x, y = [3.0, 1.0, 2.0], [1.0, 3.0, 2.0]
    M.tau_b(x, y)
    M.pearson(x, y)
    M.official_true_ids(y)
    assert x == [3.0, 1.0, 2.0] and y == [1.0, 3.0, 2.0]
