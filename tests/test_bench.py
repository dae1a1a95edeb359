"""The benchmark directory format: the columnar Context equals the row-built one; the
manifest is validated, carries provenance, and keeps its fingerprint without it."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from perrecbench.bench import (
    ITEMS,
    MANIFEST,
    REVIEWS,
    Benchmark,
    Context,
    bench_fingerprint,
    write_manifest,
)
from perrecbench.errors import BenchmarkError
from perrecbench.records import BenchManifest
from perrecbench.records.versioning import dumps
from perrecbench.types import Item, Review


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


def test_manifest_carries_provenance_and_its_fingerprint_leaves_it_out(tmp_path):
    """Two checkouts that build the same benchmark agree on its identity; a manifest of an
    earlier version (no provenance) keeps the fingerprint its runs recorded."""
    data = {"name": "b", "kind": "perrecbench", "params": {"seed": 1, "max_train": None},
            "counts": {"questions": {"test": {"easy": 3}}}}
    old = tmp_path / "old"
    old.mkdir()
    (old / MANIFEST).write_text(dumps({"format_version": 1, **data}), encoding="utf-8")
    new = tmp_path / "new"
    new.mkdir()
    written = write_manifest(new, BenchManifest.from_data(data))
    assert written.provenance is not None and written.provenance.perrecbench
    stored = json.loads((new / MANIFEST).read_text())
    assert stored["provenance"]["python"] and stored["params"] == {"seed": 1, "max_train": None}
    assert bench_fingerprint(new) == bench_fingerprint(old)
    other = tmp_path / "other"
    other.mkdir()
    write_manifest(other, BenchManifest.from_data({**data, "params": {"seed": 2, "max_train": None}}))
    assert bench_fingerprint(other) != bench_fingerprint(new)
    assert Benchmark(new).manifest.counts.test_questions("easy") == 3


def test_manifest_of_a_newer_format_is_refused_with_both_versions(tmp_path):
    (tmp_path / MANIFEST).write_text(json.dumps({"format_version": 7, "name": "x"}), encoding="utf-8")
    with pytest.raises(BenchmarkError, match=r"format version 7; this perrecbench reads versions up to 1"):
        Benchmark(tmp_path)
    (tmp_path / MANIFEST).write_text("{broken", encoding="utf-8")
    with pytest.raises(BenchmarkError, match="not valid JSON"):
        Benchmark(tmp_path)
    (tmp_path / MANIFEST).write_text(json.dumps({"name": "x", "counts": {"questions": "many"}}), encoding="utf-8")
    with pytest.raises(BenchmarkError, match="not a valid benchmark manifest.*counts.questions"):
        Benchmark(tmp_path)
