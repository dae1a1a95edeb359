"""`perrecbench export-questions`: what a model may look at, for systems outside PerRecBench
(issue 16, section 5)."""

from __future__ import annotations

import json

import pytest
from helpers.cli import invoke
from helpers.cli import predictions as _preds
from helpers.tiny_bench import make_tiny_bench

from perrecbench.bench import Benchmark
from perrecbench.errors import ConfigError

MEMBER_KEYS = {"user_id", "timestamp", "avg_rating", "most_common_rating", "history_len", "history"}


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return Benchmark(make_tiny_bench(tmp_path_factory.mktemp("bench") / "tiny", history=14))


def _export(bench, out, *extra):
    res = invoke(["export-questions", "--bench", str(bench.path), "--out", str(out), *extra])
    assert res.exit_code == 0, res.output
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def _keys(obj, path=()):
    """Every (path, key) of a JSON value."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield path, k
            yield from _keys(v, (*path, k))
    elif isinstance(obj, list):
        for v in obj:
            yield from _keys(v, (*path, "[]"))


def test_every_question_of_the_split_without_its_truth(bench, tmp_path):
    lines = _export(bench, tmp_path / "q.jsonl")
    questions = {q.id: q for lv in bench.available("test") for q in bench.questions("test", lv)}
    assert [d["question_id"] for d in lines] == [q.id for lv in bench.available("test")
                                                 for q in bench.questions("test", lv)]
    for d in lines:
        q = questions[d["question_id"]]
        assert set(d) == {"question_id", "level", "split", "query_time", "item", "members"}
        assert (d["level"], d["split"], d["query_time"]) == (q.level, "test", q.query_time)
        item = bench.context.item(q.item_id)
        assert d["item"] == {"item_id": q.item_id, "title": item.title, "author": item.author,
                             "category": item.category, "description": item.description}
        # "rating" is a key only of history entries; "relative_rating" nowhere
        for path, key in _keys(d):
            assert key != "relative_rating"
            if key == "rating":
                assert path == ("members", "[]", "history", "[]")
        for m, exported in zip(q.users, d["members"], strict=True):
            assert set(exported) == MEMBER_KEYS
            assert (exported["user_id"], exported["timestamp"], exported["avg_rating"],
                    exported["most_common_rating"], exported["history_len"]) == (
                m.user_id, m.timestamp, m.avg_rating, m.most_common_rating, m.history_len)
            # the member's own review of the item is not in their history
            assert q.item_id not in {h["item_id"] for h in exported["history"]}


def test_history_is_every_review_strictly_before_the_members_review(bench, tmp_path):
    ctx = bench.context
    for d in _export(bench, tmp_path / "q.jsonl", "--levels", "hard"):
        assert d["level"] == "hard"
        for m in d["members"]:
            want = ctx.history(m["user_id"], before=m["timestamp"])
            assert m["history"] == [{"item_id": r.item_id, "title": ctx.item(r.item_id).title,
                                     "rating": r.rating, "timestamp": r.timestamp} for r in want]
            assert all(h["timestamp"] < m["timestamp"] for h in m["history"])
            later = ctx.history(m["user_id"], before=2**62)[len(want):]
            assert len(want) >= 14 and later and later[0].timestamp >= m["timestamp"]
            assert (d["item"]["item_id"], m["timestamp"]) in {(r.item_id, r.timestamp) for r in later}


def test_max_history_keeps_the_latest_n(bench, tmp_path):
    full = _export(bench, tmp_path / "all.jsonl", "--levels", "easy")
    cut = _export(bench, tmp_path / "cut.jsonl", "--levels", "easy", "--max-history", "3")
    for a, b in zip(full, cut, strict=True):
        for ma, mb in zip(a["members"], b["members"], strict=True):
            assert mb["history"] == ma["history"][-3:] and len(mb["history"]) == 3
            assert mb["history_len"] == ma["history_len"]


def test_rating_pairs_are_the_runs_sample(bench, tmp_path):
    lines = _export(bench, tmp_path / "r.jsonl", "--method", "rating", "--pairs", "7", "--pairs-seed", "3")
    res = invoke(["run", "--bench", str(bench.path), "--model", "baseline/random", "--method", "rating",
                  "--pairs", "7", "--pairs-seed", "3", "--out", str(tmp_path / "run"), "--no-progress"])
    assert res.exit_code == 0, res.output
    asked = list(_preds(tmp_path / "run"))
    assert [d["question_id"] for d in lines] == asked and len(asked) == 7
    for d in lines:
        (m,) = d["members"]
        assert d["question_id"] == f"rating-{d['item']['item_id']}-{m['user_id']}" and d["level"] == "rating"
        assert set(m) == MEMBER_KEYS
    other = _export(bench, tmp_path / "r2.jsonl", "--method", "rating", "--pairs", "7", "--pairs-seed", "4")
    assert [d["question_id"] for d in other] != asked  # the seed is the run's seed


@pytest.mark.parametrize(("extra", "message"), [
    (["--method", "rating", "--levels", "easy"], "--levels does not apply to --method rating"),
    (["--method", "ranking"], "unknown --method 'ranking'"),
    (["--max-history", "-1"], "--max-history must be at least 0"),
    (["--levels", "tiny"], "unknown level"),
])
def test_bad_options_are_one_clear_error_and_write_nothing(bench, tmp_path, extra, message):
    out = tmp_path / "q.jsonl"
    with pytest.raises(ConfigError, match=message):
        invoke(["export-questions", "--bench", str(bench.path), "--out", str(out), *extra])
    assert not out.exists() and not list(tmp_path.iterdir())
