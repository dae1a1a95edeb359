"""The rating-prediction task (`--method rating`): its questions, the runner, resuming,
scoring with the failure policy, baselines and LLMs (default and older prompt families)
against a real loopback server."""

from __future__ import annotations

import json

import pytest
from conftest import shared_path
from helpers.cli import invoke, run_args
from helpers.cli import predictions as _preds
from helpers.scoring import failed, make_run
from helpers.tiny_bench import make_tiny_bench
from servers.fake_openai import FakeOpenAI

from perrecbench import RATING
from perrecbench.bench import Benchmark
from perrecbench.errors import BenchmarkError, ConfigError
from perrecbench.records import Prediction
from perrecbench.run.rundir import RunDir
from perrecbench.tasks import questions_for, rating_pool, rating_questions


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return make_tiny_bench(tmp_path_factory.mktemp("bench") / "tiny")


@pytest.fixture
def server():
    with FakeOpenAI() as srv:
        yield srv


def _base(bench, out, model, method, *extra):
    return ["run", "--bench", str(bench), "--model", model, "--method", method, "--out", str(out),
            "--no-progress", *extra]


def _rows(*run_dirs):
    res = invoke(["score", *map(str, run_dirs), "--format", "json", "--resamples", "50"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_pairs_are_the_members_once_each_in_a_seeded_order(bench):
    b = Benchmark(bench)
    every = [q for lv in b.available("test") for q in b.questions("test", lv)]
    pool = rating_questions(b, "test", seed=0)
    members = {(m.user_id, q.item_id): m for q in every for m in q.users}
    assert len(pool) == len(members) == 36  # 4 questions per level of 2, 3 and 4 users, one item each
    for q in pool:
        (m,) = q.users
        assert q.level == RATING and q.split == "test" and members[(m.user_id, q.item_id)] == m
        assert q.query_time == m.timestamp  # the member sees only reviews before their own of the item
    assert len({q.id for q in pool}) == len(pool)
    assert [q.id for q in rating_questions(b, "test", seed=0)] == [q.id for q in pool]
    assert [q.id for q in rating_questions(b, "test", seed=1)] != [q.id for q in pool]
    # a member listed in two questions of an item is one pair
    twice = rating_pool([every[0], every[0]], "test", seed=0)
    assert len(twice) == every[0].n
    # --pairs is a prefix of the sample, capped by --limit; levels do not apply
    assert questions_for(b, RATING, pairs=10)[RATING] == pool[:10]
    assert questions_for(b, RATING, pairs=10, limit=3)[RATING] == pool[:3]
    assert questions_for(b, RATING, levels=["easy"], pairs=None)[RATING] == pool


def test_baselines_answer_ratings_and_score_by_mae_rmse_accuracy(bench, tmp_path):
    for model in ("oracle", "bias", "random"):
        res = invoke(_base(bench, tmp_path / model, f"baseline/{model}", "list,rating", "--pairs", "10"))
        assert res.exit_code == 0, res.output
        assert f"{tmp_path / model / 'rating'}: 10 ok, 0 failed of 10 questions" in res.output
    manifest = RunDir(tmp_path / "bias" / "rating").read_manifest()
    assert (manifest.method, manifest.levels, manifest.asked, manifest.rating_seed) == (
        "rating", ["rating"], {"rating": 10}, 0)
    pool = {q.id: q for q in rating_questions(Benchmark(bench), "test", 0)[:10]}
    oracle = _preds(tmp_path / "oracle" / "rating")
    assert set(oracle) == set(pool)
    assert all(p.ratings == [pool[qid].users[0].rating] and p.order is None for qid, p in oracle.items())
    rows = _rows(*(tmp_path / m / "rating" for m in ("oracle", "bias", "random")))
    got = {(r["model"], r["metric"]): r for r in rows}
    assert {r["metric"] for r in rows} == {"mae", "rmse", "acc"}  # no tau: one member per question
    assert all(r["level"] == "rating" and r["n_questions"] == 10 and r["n_scored"] == 10 for r in rows)
    assert got[("baseline/oracle", "mae")]["score"] == 0 and got[("baseline/oracle", "acc")]["score"] == 1
    for name in ("baseline/bias", "baseline/random"):
        r = got[(name, "rmse")]
        assert r["ci_low"] <= r["score"] <= r["ci_high"] and r["score"] >= got[(name, "mae")]["score"] > 0
    # the list runs beside them still make their leaderboard; the rating runs add no cell
    board = invoke(["leaderboard", str(tmp_path / "bias"), "--format", "csv"])
    assert board.exit_code == 0 and board.output.count("baseline/bias") == 1


def test_pairs_resume_like_limit_and_the_seed_is_the_runs_identity(bench, tmp_path):
    out = tmp_path / "r"
    assert invoke(_base(bench, out, "baseline/bias", "rating", "--pairs", "5")).exit_code == 0
    res = invoke(_base(bench, out, "baseline/bias", "rating", "--pairs", "12"))
    assert res.exit_code == 0 and "7 answered now (0 failed), 5 already done" in res.output
    assert RunDir(out).read_manifest().asked == {"rating": 12}
    res = invoke(_base(bench, out, "baseline/bias", "rating", "--pairs", "all", "--limit", "3"))
    assert res.exit_code == 0 and "0 answered now" in res.output  # --limit caps --pairs: 3, all done
    with pytest.raises(BenchmarkError, match="rating_seed"):
        invoke(_base(bench, out, "baseline/bias", "rating", "--pairs", "5", "--pairs-seed", "1"))
    with pytest.raises(ConfigError, match="--pairs"):
        invoke(_base(bench, tmp_path / "x", "baseline/bias", "rating", "--pairs", "0"))
    seeded = tmp_path / "s1"
    assert invoke(_base(bench, seeded, "baseline/bias", "rating", "--pairs", "12", "--pairs-seed", "1")).exit_code == 0
    assert set(_preds(seeded)) != set(_preds(out))
    assert {r["n_questions"] for r in _rows(out)} == {12}


def test_failed_rating_answers_are_excluded_from_mae_and_counted(bench, tmp_path):
    pool = rating_questions(Benchmark(bench), "test", 0)[:4]
    preds = [Prediction(question_id=pool[0].id, ratings=[pool[0].users[0].rating + 1.0]),
             Prediction(question_id=pool[1].id, ratings=[pool[1].users[0].rating - 2.0]),
             failed(pool[2].id)]  # and pool[3] never answered
    run = make_run(tmp_path / "hand", bench, "baseline/hand", "rating", {"rating": preds})
    manifest = RunDir(run).read_manifest()
    RunDir(run).write_manifest(manifest.model_copy(update={"asked": {"rating": 4}, "rating_seed": 0}))
    got = {r["metric"]: r for r in _rows(run)}
    mae = got["mae"]
    assert (mae["n_questions"], mae["n_failed"], mae["n_missing"], mae["n_scored"]) == (4, 1, 1, 2)
    assert mae["score"] == pytest.approx(1.5) and got["rmse"]["score"] == pytest.approx((2.5) ** 0.5)
    assert mae["failure_policy"] == "failed=excluded"


def test_llm_rating_shares_the_runners_cache_with_pointwise(bench, server, tmp_path):
    """A rating question asks exactly the pointwise question about that member: after a
    pointwise run the rating run is answered from the cache, through the same runner."""
    assert invoke(run_args(bench, tmp_path / "point", "point", server.url)).exit_code == 0
    sent = server.stats()["requests"]
    res = invoke(run_args(bench, tmp_path / "rating", "rating", server.url, "--pairs", "8"))
    assert res.exit_code == 0, res.output
    assert server.stats()["requests"] == sent
    preds = _preds(tmp_path / "rating")
    assert len(preds) == 8 and all(p.ok and len(p.ratings) == 1 and 1 <= p.ratings[0] <= 5 for p in preds.values())
    calls = [json.loads(line) for line in (tmp_path / "rating" / "calls.jsonl").read_text().splitlines()]
    assert len(calls) == 8 and {(c["method"], c["status"]) for c in calls} == {("rating", "cached")}
    point = {(q.users[i].user_id, q.item_id): p.ratings[i]
             for q in (q for lv in ("easy", "medium", "hard") for q in Benchmark(bench).questions("test", lv))
             for qid, p in _preds(tmp_path / "point").items() if qid == q.id for i in range(q.n)}
    pool = {q.id: q for q in rating_questions(Benchmark(bench), "test", 0)}
    assert all(p.ratings[0] == point[(pool[qid].users[0].user_id, pool[qid].item_id)] for qid, p in preds.items())
    dry = invoke(run_args(bench, tmp_path / "dry", "rating", server.url, "--pairs", "5", "--dry-run"))
    assert "5 questions" in dry.output and "total   5 requests (5 already cached)" in dry.output


def test_llm_rating_with_an_older_prompt_family(bench, server, tmp_path):
    templates = shared_path("reference", "official-templates")
    out = tmp_path / "liu"
    res = invoke(run_args(bench, out, "rating", server.url, "--pairs", "6", "--prompt-set", "rating-liu",
                          "--prompt-variant", "1", "--templates", str(templates), "--log-prompts"))
    assert res.exit_code == 0, res.output
    preds = _preds(out)
    assert len(preds) == 6 and all(p.ok for p in preds.values())  # "(x stars, 80%)" read as x
    manifest = RunDir(out).read_manifest()
    assert manifest.recommender_config["prompt_variant"] == 1
    assert manifest.variant == "no profile, rating-liu #1 prompts"
    calls = [json.loads(line) for line in (out / "calls.jsonl").read_text().splitlines()]
    first = calls[0]["messages"]
    assert [m["role"] for m in first] == ["user"] and "\nii. " in first[0]["content"]
    assert "stars, 80%" in calls[0]["response"]
    with pytest.raises(ConfigError, match="does not support method 'list'"):
        invoke(run_args(bench, tmp_path / "l", "list", server.url, "--prompt-set", "rating-wang",
                        "--templates", str(templates)))
    with pytest.raises(ConfigError, match="takes no --cot"):
        invoke(run_args(bench, tmp_path / "c", "rating", server.url, "--prompt-set", "rating-dai", "--cot",
                        "--templates", str(templates)))
    with pytest.raises(ConfigError, match="--prompt-variant is for the rating"):
        invoke(run_args(bench, tmp_path / "v", "rating", server.url, "--prompt-variant", "2"))
