"""Classic baselines: contract, leakage, hand-checked values, and the benchmark's premise."""

from __future__ import annotations

import asyncio
import math
from dataclasses import replace
from types import SimpleNamespace

import duckdb
import numpy as np
import pytest

from perrecbench.bench import Benchmark, Context
from perrecbench.errors import ConfigError
from perrecbench.models.baselines import BASELINES, create_baseline
from perrecbench.models.registry import create_model
from perrecbench.types import Item, Member, Question, Review

# ---------------------------------------------------------------- a tiny hand-made world

T_ALICE, T_BOB = 1_000, 1_100  # when each member reviewed the query item "Q"

ITEMS = {
    "Q": Item("Q", "Detective Murder Clue", "Ann Vale", "Mystery"),
    "M1": Item("M1", "The Detective Alibi", "Ann Vale", "Mystery"),
    "M2": Item("M2", "Murder Suspect Secret", "Bo Reyes", "Mystery"),
    "M3": Item("M3", "Clue of the Inspector", "Ann Vale", "Mystery"),
    "R1": Item("R1", "Love Kiss Wedding", "Cy Moss", "Romance"),
    "R2": Item("R2", "Heart Bride Desire", "Cy Moss", "Romance"),
    "R3": Item("R3", "Passion Sweetheart Love", "Di Kerr", "Romance"),
}


def _reviews() -> list[Review]:
    """alice likes mystery, bob romance; c1-c3 like mystery, c4-c6 romance (all early)."""
    rs: list[Review] = []
    t = 100
    for user, (m, r) in {"alice": (5, 2), "bob": (2, 5), "c1": (5, 1), "c2": (4, 2), "c3": (5, 2),
                         "c4": (1, 5), "c5": (2, 4), "c6": (2, 5)}.items():
        for item in ("M1", "R1", "M2", "R2", "M3", "R3"):
            rs.append(Review(user, item, float(m if item[0] == "M" else r), t))
            t += 1
        if user.startswith("c"):  # co-raters rate the query item before both members
            rs.append(Review(user, "Q", float(m), t))
            t += 1
    rs.append(Review("alice", "Q", 5.0, T_ALICE))  # the members' own reviews of the query
    rs.append(Review("bob", "Q", 2.0, T_BOB))
    return rs


def _member(ctx: Context, user: str, rating: float, ts: int) -> Member:
    hist = ctx.history(user, ts)
    avg = sum(r.rating for r in hist) / len(hist)
    return Member(user, rating, rating - avg, avg, 5.0, len(hist), ts)


def _question(ctx: Context, qid: str = "easy-Q") -> Question:
    users = (_member(ctx, "alice", 5.0, T_ALICE), _member(ctx, "bob", 2.0, T_BOB))
    return Question(qid, "easy", "test", "Q", T_ALICE, users)


def _prepared(name: str, reviews: list[Review], options: dict | None = None,
              items: dict[str, Item] | None = None):
    ctx = Context(reviews, {**ITEMS, **(items or {})})
    model = create_baseline(name, options or {})
    model.prepare(SimpleNamespace(context=ctx, path=None), "test")
    return model, ctx


# ---------------------------------------------------------------- contract


def test_unknown_baseline_lists_valid_names():
    with pytest.raises(ConfigError) as exc:
        create_baseline("nope", {})
    for name in BASELINES:
        assert name in str(exc.value)


def test_registry_creates_baselines_with_names_and_config():
    for name in BASELINES:
        model = create_model(f"baseline/{name}")
        assert model.name == f"baseline/{name}"
    assert create_model("baseline/cf", {"k": "5"}).config() == {"k": 5, "shrinkage": 10.0, "min_corater": 2}
    assert create_model("baseline/random", {"seed": 3}).config() == {"seed": 3}


@pytest.mark.parametrize("options", [{"bogus": 1}, {"k": "many"}, {"k": -1}])
def test_bad_options_are_config_errors(options):
    with pytest.raises(ConfigError):
        create_baseline("content", options)


@pytest.mark.parametrize("name", sorted(BASELINES))
@pytest.mark.parametrize("method", ["point", "pair", "list"])
def test_every_method_answers(name, method):
    model, ctx = _prepared(name, _reviews())
    pred = asyncio.run(model.predict(_question(ctx), method))
    assert pred.ok and sorted(pred.order) == [0, 1]
    if method == "point":
        assert all(1.0 <= r <= 5.0 for r in pred.ratings)


# ---------------------------------------------------------------- leakage


LEAKS_AFTER_BOTH = [  # at or after both members' review times
    Review("alice", "M4", 1.0, T_BOB), Review("bob", "M4", 5.0, T_BOB + 5),
    Review("c1", "Q", 1.0, T_BOB), Review("c4", "Q", 5.0, 9_999),
    Review("c2", "R1", 5.0, T_BOB + 1), Review("new", "Q", 1.0, T_BOB + 2),
    Review("new", "M1", 5.0, T_BOB + 3),
]
LEAKS_AT_ALICE = [  # exactly at alice's review time: must not change alice's score
    Review("alice", "M4", 1.0, T_ALICE), Review("c5", "Q", 5.0, T_ALICE),
    Review("c1", "M4", 1.0, T_ALICE),
]
CONTEXT_USERS = ("random", "bias", "content", "cf")


def _own_rating_changed(reviews: list[Review], user: str) -> list[Review]:
    """The member's own review of the query item, with a different rating."""
    return [replace(r, rating=6.0 - r.rating) if (r.item_id, r.user_id) == ("Q", user) else r
            for r in reviews]


@pytest.mark.parametrize("name", CONTEXT_USERS)
def test_reviews_at_or_after_member_time_are_invisible(name):
    base, ctx = _prepared(name, _reviews())
    q = _question(ctx)
    expected = base.score_users(q)
    expected_ratings = base.predict_ratings(q)

    later, _ = _prepared(name, _reviews() + LEAKS_AFTER_BOTH)
    assert later.score_users(q) == expected
    assert later.predict_ratings(q) == expected_ratings

    own, _ = _prepared(name, _own_rating_changed(_reviews(), "alice"))
    assert own.score_users(q)[0] == expected[0]  # bob, later, may see alice's review
    own, _ = _prepared(name, _own_rating_changed(_reviews(), "bob"))
    assert own.score_users(q) == expected

    at_alice, _ = _prepared(name, _reviews() + LEAKS_AT_ALICE)
    assert at_alice.score_users(q)[0] == expected[0]


@pytest.mark.parametrize("name", ["bias", "content", "cf"])
def test_earlier_reviews_do_change_the_score(name):
    """The leakage test is not vacuous: the same kind of review, one ms earlier, counts."""
    base, ctx = _prepared(name, _reviews())
    q = _question(ctx)
    earlier = [Review("alice", "M4", 1.0, T_ALICE - 1), Review("c1", "M4", 5.0, 500),
               Review("c2", "M4", 4.0, 501), Review("c3", "M4", 5.0, 502),
               Review("c4", "M4", 1.0, 503), Review("c5", "M4", 2.0, 504)]
    m4 = {"M4": Item("M4", "Detective Clue Murder Inspector", "Ann Vale", "Mystery")}
    changed, _ = _prepared(name, _reviews() + earlier, items=m4)
    assert changed.score_users(q)[0] < base.score_users(q)[0]


# ---------------------------------------------------------------- each baseline


def test_oracle_is_the_truth():
    model, ctx = _prepared("oracle", _reviews())
    q = _question(ctx)
    pred = asyncio.run(model.predict(q, "list"))
    assert pred.order == q.true_order()
    assert model.predict_ratings(q) == [5.0, 2.0]


def test_random_is_reproducible_per_seed_and_question():
    model, ctx = _prepared("random", _reviews())
    q = _question(ctx)
    again, _ = _prepared("random", _reviews())
    assert model.score_users(q) == again.score_users(q)
    assert model.predict_ratings(q) == again.predict_ratings(q)
    other_seed, _ = _prepared("random", _reviews(), {"seed": 1})
    assert other_seed.score_users(q) != model.score_users(q)
    assert model.score_users(_question(ctx, "easy-other")) != model.score_users(q)
    ratings = [r for i in range(50) for r in model.predict_ratings(_question(ctx, f"q{i}"))]
    assert set(ratings) == {1.0, 2.0, 3.0, 4.0, 5.0}


def test_bias_matches_hand_computation():
    model, ctx = _prepared("bias", _reviews(), {"lambda_item": 2, "lambda_user": 1})
    q = _question(ctx)
    before = T_ALICE
    earlier = [r for r in _reviews() if r.timestamp < before]
    mu = sum(r.rating for r in earlier) / len(earlier)

    def b_item(item):
        rs = [r.rating - mu for r in earlier if r.item_id == item]
        return sum(rs) / (len(rs) + 2)

    hist = [r for r in earlier if r.user_id == "alice"]
    b_u = sum(r.rating - mu - b_item(r.item_id) for r in hist) / (len(hist) + 1)
    expected = min(5.0, max(1.0, mu + b_u + b_item("Q")))
    assert model.predict_ratings(q)[0] == pytest.approx(expected)
    assert model.score_users(q)[0] == pytest.approx(expected - q.users[0].avg_rating)


@pytest.mark.parametrize("name", ["content", "cf"])
def test_taste_baselines_rank_the_mystery_fan_first(name):
    model, ctx = _prepared(name, _reviews())
    scores = model.score_users(_question(ctx))
    assert scores[0] > 0 > scores[1]


def test_content_falls_back_to_zero_without_overlap():
    x = {"X": Item("X", "Quantum Galaxy", "Zed Orr", "Science Fiction")}
    model, ctx = _prepared("content", _reviews() + [Review("alice", "X", 4.0, T_ALICE)], items=x)
    q = Question("easy-X", "easy", "test", "X", T_ALICE, (_member(ctx, "alice", 4.0, T_ALICE),))
    assert model.score_users(q) == [0.0]


def test_cf_needs_co_raters():
    # nobody rated the query item before alice: no similarity, score 0
    reviews = [r for r in _reviews() if not (r.item_id == "Q" and r.user_id.startswith("c"))]
    model, ctx = _prepared("cf", reviews)
    assert model.score_users(_question(ctx))[0] == 0.0


# ---------------------------------------------------------------- premise on synthetic data

LEVELS = ["easy", "medium", "hard"]


def _build_synthetic(tmp_path, seed: int) -> tuple[Benchmark, object]:
    from perrecbench.builder.builder import build_benchmark
    from perrecbench.builder.params import BuildParams
    from perrecbench.data.synthetic import generate

    world, reviews, items = generate({"seed": seed})
    con = duckdb.connect()
    con.register("_r", reviews)
    con.register("_i", items)
    con.execute("CREATE TABLE raw_reviews AS SELECT * FROM _r")
    con.execute("CREATE TABLE raw_items AS SELECT * FROM _i")
    build_benchmark(con, BuildParams(seed=seed), tmp_path / "bench")
    con.close()
    return Benchmark(tmp_path / "bench"), world


@pytest.fixture(scope="module", params=[0, 1, 2], ids=lambda s: f"seed{s}")
def synthetic(request, tmp_path_factory):
    """A default synthetic benchmark and every baseline's test-split results on it."""
    from perrecbench.run.rundir import RunDir
    from perrecbench.run.runner import RunOptions, run
    from perrecbench.score.metrics import rmse, tau_b_order

    tmp = tmp_path_factory.mktemp(f"synthetic{request.param}")
    bench, world = _build_synthetic(tmp, request.param)
    questions = {(lv, q.id): q for lv in LEVELS for q in bench.questions("test", lv)}
    results = {}
    for name, method in [("random", "point"), ("random", "list"), ("oracle", "point"),
                         ("bias", "point"), ("content", "point"), ("cf", "point"),
                         ("content", "pair"), ("cf", "list")]:
        run_dir = tmp / f"run-{name}-{method}"
        run(create_baseline(name, {}), bench, method, run_dir, RunOptions(levels=LEVELS))
        taus: dict[str, list[float]] = {lv: [] for lv in LEVELS}
        pred_r, true_r = [], []
        for rec in RunDir(run_dir).read_predictions():
            q = questions[(rec.level, rec.prediction.question_id)]
            assert rec.prediction.ok
            taus[rec.level].append(tau_b_order(rec.prediction.order, q.true_scores()))
            if rec.prediction.ratings:
                pred_r += rec.prediction.ratings
                true_r += [m.rating for m in q.users]
        assert all(len(t) == 200 for t in taus.values())
        results[(name, method)] = {
            "tau": {lv: float(np.mean(t)) for lv, t in taus.items()},
            "rmse": rmse(pred_r, true_r) if pred_r else math.nan,
        }
    return SimpleNamespace(bench=bench, world=world, results=results, questions=questions)


def _mean_tau(res) -> float:
    return float(np.mean(list(res["tau"].values())))


def test_synthetic_bench_has_200_items_per_level(synthetic):
    counts = synthetic.bench.manifest.counts.questions["test"]
    assert counts == {lv: 200 for lv in LEVELS}


def test_oracle_scores_exactly_one(synthetic):
    assert synthetic.results[("oracle", "point")]["tau"] == {lv: 1.0 for lv in LEVELS}
    assert synthetic.results[("oracle", "point")]["rmse"] == 0.0


def test_random_is_chance(synthetic):
    assert abs(_mean_tau(synthetic.results[("random", "list")])) < 0.1


def test_bias_predicts_ratings_but_not_personal_preference(synthetic):
    bias, rand = synthetic.results[("bias", "point")], synthetic.results[("random", "point")]
    assert abs(_mean_tau(bias)) < 0.1
    assert bias["rmse"] < rand["rmse"] - 0.3


@pytest.mark.parametrize("key", [("content", "point"), ("cf", "point"), ("content", "pair"),
                                 ("cf", "list")])
def test_taste_baselines_find_personal_preference(synthetic, key):
    res = synthetic.results[key]
    assert all(t > 0.15 for t in res["tau"].values()), res["tau"]
    assert _mean_tau(res) > 0.25


def test_world_premise_taste_ranks_bias_and_quality_do_not(synthetic):
    """Ranking by the true taste term works; by the user's habit + item quality, it does not."""
    from perrecbench.score.metrics import tau_b

    world = synthetic.world
    taste, habit = [], []
    for (_lv, _qid), q in synthetic.questions.items():
        truth = q.true_scores()
        taste.append(tau_b([world.true_affinity(m.user_id, q.item_id) for m in q.users], truth))
        habit.append(tau_b([world.user_bias[world.user_index(m.user_id)]
                            + world.item_quality[world.item_index(q.item_id)] for m in q.users], truth))
    assert np.mean(taste) > 0.45
    assert abs(np.mean(habit)) < 0.1
