"""Correlation of preference scores with rating error: the coefficients, the models'
points from score rows, the per-group view on hand-made runs (values by hand)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers.scoring import make_bench, make_run, question
from scipy import stats as sps

from perrecbench.errors import ConfigError
from perrecbench.records import Prediction, ScoreRow
from perrecbench.records.analysis import CorrelationReport
from perrecbench.run.rundir import RunDir
from perrecbench.score.correlation import coefficient, correlate, correlation, model_points
from perrecbench.score.runs import load_runs
from perrecbench.tasks import rating_pool


def test_coefficients_match_scipy_and_are_undefined_when_constant():
    rng = np.random.default_rng(3)
    for n in (3, 7, 80):  # 80: Kendall through scipy's O(n log n) path, below that all pairs at once
        x, y = rng.integers(0, 5, n).astype(float), rng.normal(size=n)
        assert coefficient("pearson", x, y) == pytest.approx(sps.pearsonr(x, y).statistic)
        assert coefficient("spearman", x, y) == pytest.approx(sps.spearmanr(x, y).statistic)
        assert coefficient("kendall", x, y) == pytest.approx(sps.kendalltau(x, y).statistic)
    for name in ("pearson", "spearman", "kendall"):
        assert math.isnan(coefficient(name, [1, 2, 3], [5, 5, 5]))
        assert math.isnan(coefficient(name, [1], [2]))
    with pytest.raises(ConfigError):
        coefficient("cosine", [1, 2], [1, 2])


def test_bootstrap_interval_is_reproducible_and_brackets_a_clear_trend():
    x = list(range(30))
    y = [v + (3 if v % 4 == 0 else -2) for v in x]
    value, lo, hi = correlation("spearman", x, y, n_resamples=300, seed=5)
    assert lo <= value <= hi and lo > 0.8
    assert correlation("spearman", x, y, n_resamples=300, seed=5) == (value, lo, hi)
    assert correlation("spearman", x, y, n_resamples=300, seed=6) != (value, lo, hi)
    two = correlation("pearson", [1, 2], [3, 1], n_resamples=200)
    assert two[0] == pytest.approx(-1.0)  # every resample of 2 models that is not constant is -1
    assert two[1] == two[2] == pytest.approx(-1.0)


def _row(model, method, level, metric, score, run, variant=""):
    return ScoreRow(model=model, method=method, level=level, metric=metric, score=score, ci_low=score - 0.1,
                    ci_high=score + 0.1, n_questions=10, n_failed=1, n_missing=0, n_scored=9,
                    failure_policy="x", run=run, variant=variant)


def _rating(model, mae, rmse, acc, run, variant=""):
    return [_row(model, "rating", "rating", m, v, run, variant) for m, v in (("mae", mae), ("rmse", rmse), ("acc", acc))]


def test_model_points_average_the_cells_and_say_what_is_missing():
    rows = [
        _row("a", "list", "easy", "tau-b", 0.2, "a/list"), _row("a", "list", "hard", "tau-b", 0.4, "a/list"),
        _row("a", "point", "hard", "tau-b", 0.0, "a/point"), *_rating("a", 0.8, 1.0, 0.4, "a/rating"),
        _row("b", "list", "hard", "tau-b", -0.1, "b/list"), *_rating("b", 0.7, 0.9, 0.5, "b/rating"),
        _row("c", "list", "hard", "tau-b", 0.5, "c/list"),  # no rating run
        *_rating("d", 0.7, 0.9, 0.5, "d/rating"),  # no preference run
    ]
    points, notes = model_points(rows)
    assert [p.label for p in points] == ["a", "b"]
    a = points[0]
    assert a.preference == pytest.approx(0.2) and a.preference_cells == 3 and math.isnan(a.preference_ci_low)
    assert (a.mae, a.rmse, a.acc, a.n_pairs, a.n_failed) == (0.8, 1.0, 0.4, 9, 1)
    assert "c: left out, it has no a rating run" in notes and any(n.startswith("d: left out") for n in notes)
    assert "a: Avg. over 3 of the 9 cells" in notes
    cell, _ = model_points(rows, cell="hard:list")
    assert [p.preference for p in cell] == [0.4, -0.1] and cell[0].preference_ci_low == pytest.approx(0.3)
    with pytest.raises(ConfigError, match="LEVEL:METHOD"):
        model_points(rows, cell="hard")
    # variants are separate models; --match model pairs a rating run of another prompt set
    other = [_row("m", "list", "hard", "tau-b", 0.3, "m/list", "no profile"),
             *_rating("m", 0.9, 1.1, 0.3, "m/rating", "no profile, rating-wang #0 prompts")]
    assert model_points(other)[0] == []
    assert [p.label for p in model_points(other, match="model")[0]] == ["m"]
    with pytest.raises(ConfigError, match=r"two runs fill the same.*--match label"):
        model_points(other + _rating("m", 1, 1, 1, "m/rating2"), match="model")
    # matched by label already: the advice names no option (the report has no --match)
    with pytest.raises(ConfigError, match="two runs fill the same") as raised:
        model_points(other + _rating("m", 1, 1, 1, "m/r2", "no profile") + _rating("m", 1, 1, 1, "m/r3", "no profile"))
    assert "--match" not in str(raised.value)


def test_per_group_view_on_hand_made_runs(tmp_path):
    """Two groups: the model rates group 1's members exactly and group 2's badly, and it
    ranks group 1 right and group 2 wrong -- error and tau move together, by hand."""
    q1 = question("hard", "i1", [1.5, 0.5, -0.5, -1.5])
    q2 = question("hard", "i2", [1.2, 0.4, -0.4, -1.2])
    q3 = question("hard", "i3", [1.0, 0.3, -0.3, -1.0])  # no member rated: left out
    bench = make_bench(tmp_path / "b", {"hard": [q1, q2, q3]})
    pool = {q.users[0].user_id: q for q in rating_pool([q1, q2, q3], "test", 0)}
    preds = []
    for q, off in ((q1, 0.0), (q2, 2.0)):
        for m in q.users[:2]:
            preds.append(Prediction(question_id=pool[m.user_id].id, ratings=[m.rating + off]))
    rating = make_run(tmp_path / "r", bench, "m", "rating", {"rating": preds})
    RunDir(rating).write_manifest(RunDir(rating).read_manifest().model_copy(
        update={"asked": {"rating": len(pool)}, "rating_seed": 0}))
    pref = make_run(tmp_path / "l", bench, "m", "list", {"hard": [
        Prediction(question_id=q1.id, order=[0, 1, 2, 3]), Prediction(question_id=q2.id, order=[3, 2, 1, 0]),
        Prediction(question_id=q3.id, order=[0, 1, 2, 3])]})
    other = make_run(tmp_path / "l2", bench, "n", "list", {"hard": [
        Prediction(question_id=q.id, order=[0, 1, 2, 3]) for q in (q1, q2, q3)]})
    report = correlate(load_runs([rating, pref, other]), n_resamples=50)
    groups = {g.question_id: g for g in report.groups}
    assert set(groups) == {q1.id, q2.id}
    assert (groups[q1.id].error, groups[q1.id].tau, groups[q1.id].n_members) == (0.0, 1.0, 2)
    assert (groups[q2.id].error, groups[q2.id].tau) == (2.0, -1.0)
    assert [r.value for r in report.rows if r.view == "groups" and r.coefficient == "pearson"] == [pytest.approx(-1)]
    assert "n: left out, it has no a rating run" in report.notes
    assert len(report.points) == 1 and all(r.n == 1 and math.isnan(r.value)
                                           for r in report.rows if r.view == "models")
    # JSON round trip keeps undefined values undefined
    again = CorrelationReport.from_data(report.to_data())
    assert again.rows[0].n == 1 and math.isnan(again.rows[0].value)
    with pytest.raises(ConfigError, match="no model has both"):
        correlate(load_runs([pref]), n_resamples=10)
