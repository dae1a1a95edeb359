"""Speed paths keep their contracts: deferred cache rows, buffered call log, columnar Context."""

from __future__ import annotations

import json
import sqlite3

import pyarrow as pa
import pyarrow.parquet as pq

from perrecbench.bench import ITEMS, REVIEWS, Context
from perrecbench.models.llm.cache import ResponseCache
from perrecbench.models.llm.client import CallLog
from perrecbench.types import Item, Review


def test_deferred_rows_are_readable_and_committed_together(tmp_path):
    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path)
    cache.put("v1:a", "openai", "m", {"text": "a"}, defer=True)
    cache.put("v1:b", "openai", "m", {"text": "b"}, defer=True)
    assert cache.get("v1:a") == {"text": "a"} and cache.pending == 2
    with sqlite3.connect(path) as db:  # another reader sees nothing yet
        assert db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 0
    cache.flush()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 2
    cache.put("v1:c", "openai", "m", {"text": "c"}, defer=True)
    cache.close()  # closing flushes
    assert ResponseCache(path).get("v1:c") == {"text": "c"}


def test_buffered_log_writes_on_flush(tmp_path):
    log = CallLog(tmp_path / "calls.jsonl", buffered=True)
    log.write({"status": "ok", "n": 1})
    assert (tmp_path / "calls.jsonl").read_text() == "" and log.pending == 1
    log.flush()
    assert json.loads((tmp_path / "calls.jsonl").read_text()) == {"n": 1, "status": "ok"}
    log.write({"status": "ok", "n": 2})
    log.close()
    assert len((tmp_path / "calls.jsonl").read_text().splitlines()) == 2


def test_columnar_context_equals_the_row_built_one(tmp_path):
    rows = [
        ("u2", "i1", 4.0, 30), ("u1", "i2", 3.0, 10), ("u1", "i1", 5.0, 10), ("ü", "i2", 2.0, 5),
        ("u2", "i3", 1.0, 10), ("u1", "i3", 4.5, 20), ("Z", "i1", 3.5, 10), ("ü", "ï", 5.0, 5),
    ]
    table = pa.table({k: [r[j] for r in rows] for j, k in enumerate(["user_id", "item_id", "rating", "timestamp"])})
    pq.write_table(table, tmp_path / REVIEWS)
    pq.write_table(pa.table({"item_id": ["i1"], "title": ["T"], "author": [None], "category": [None],
                             "description": [None]}), tmp_path / ITEMS)
    fast = Context.from_parquet(tmp_path)
    slow = Context([Review(*r) for r in rows], {"i1": Item("i1", "T")})
    assert fast.users() == slow.users() == ["u2", "u1", "ü", "Z"]
    assert list(fast.all_reviews()) == list(slow.all_reviews())
    for user in ("u1", "u2", "ü", "Z", "nobody"):
        for before in (0, 5, 10, 11, 25, 99):
            assert fast.history(user, before) == slow.history(user, before)
    for item in ("i1", "i2", "i3", "ï", "none"):
        for before in (0, 6, 10, 11, 31):
            assert fast.item_ratings(item, before) == slow.item_ratings(item, before)
    assert fast.item("i1") == slow.item("i1") and fast.item("x").title == "x"


def test_prediction_to_dict_matches_asdict_and_round_trips():
    """The hand-written `Prediction.to_dict` must keep up with the dataclass fields."""
    import dataclasses

    from perrecbench.types import Prediction

    p = Prediction(question_id="q1", order=[2, 0, 1], scores=[0.5, -1.0, 0.0], ratings=[4.0, None, 3.5],
                   failure=None, n_calls=3, n_failed_calls=1, extra={"pairs": {"inconsistent": 1}, "votes": [1, 2]})
    d = p.to_dict()
    assert d == dataclasses.asdict(p)
    assert list(d) == [f.name for f in dataclasses.fields(Prediction)]
    assert Prediction.from_dict(d) == p
    d["order"].append(9)
    assert p.order == [2, 0, 1]  # a copy, not the prediction's own list
