"""Builder invariants on real data (MovieLens, Amazon 2023 sample) and its pure parts."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import MOVIELENS_BUILD, shared_path

from perrecbench import GROUP_SIZE
from perrecbench.bench import Benchmark
from perrecbench.builder.builder import build_benchmark
from perrecbench.builder.grouping import Stream, choose_group, gap_chain, item_rng
from perrecbench.builder.params import BuildParams
from perrecbench.builder.splits import split_items
from perrecbench.errors import ConfigError


def _build(source: str, inputs: list[Path], meta: list[Path] | None, out: Path, params: BuildParams):
    from perrecbench.data.sources import load_source

    con = duckdb.connect()
    report = load_source(con, source, inputs, meta, {})
    return build_benchmark(con, params, out, inputs=report.to_dict())


@pytest.fixture(scope="module")
def ml_bench(movielens_bench):
    return Benchmark(movielens_bench), BuildParams(**MOVIELENS_BUILD)  # the session's shared build


@pytest.fixture(scope="module")
def amazon_bench(tmp_path_factory):
    root = shared_path("data", "amazon2023-sample")
    out = tmp_path_factory.mktemp("amz") / "bench"
    # the sample has ~5 reviews per user and category: relax thresholds to get groups at all
    params = BuildParams(seed=0, min_history=2, window_days=3650, n_items=5, n_heldout=2,
                         min_gap={"easy": 0.5, "medium": 0.4, "hard": 0.3})
    _build("amazon2023", [root / "reviews.jsonl"], [root / "meta.jsonl"], out, params)
    return Benchmark(out), params


def _all_questions(bench: Benchmark):
    for split in ("test", "heldout", "train"):
        for level in bench.available(split):
            yield from bench.questions(split, level)


def _check_invariants(bench: Benchmark, params: BuildParams) -> int:
    reviews = pq.read_table(bench.path / "reviews.parquet").to_pylist()
    by_user = defaultdict(list)
    for r in reviews:
        by_user[r["user_id"]].append(r)
    items_by_split = defaultdict(set)
    n = 0
    for q in _all_questions(bench):
        n += 1
        assert q.n == GROUP_SIZE[q.level]
        assert len({m.user_id for m in q.users}) == q.n
        items_by_split[q.split].add(q.item_id)
        times = [m.timestamp for m in q.users]
        assert max(times) - min(times) <= params.window_ms
        assert q.query_time == min(times)
        rels = sorted(m.relative_rating for m in q.users)
        assert all(b - a >= params.min_gap[q.level] - 1e-6 for a, b in zip(rels, rels[1:]))
        for m in q.users:
            own = [r for r in by_user[m.user_id] if r["item_id"] == q.item_id]
            assert len(own) == 1 and own[0]["timestamp"] == m.timestamp and own[0]["rating"] == m.rating
            earlier = [r["rating"] for r in by_user[m.user_id] if r["timestamp"] < m.timestamp]
            assert m.history_len == len(earlier) >= params.min_history
            assert m.avg_rating == pytest.approx(np.mean(earlier), abs=1e-5)
            assert m.relative_rating == pytest.approx(m.rating - np.mean(earlier), abs=1e-5)
            assert m.most_common_rating in earlier
            # the context a model sees about this member ends strictly before the query review
            hist = bench.context.history(m.user_id, m.timestamp)
            assert len(hist) == m.history_len
            assert all(h.timestamp < m.timestamp and h.item_id != q.item_id for h in hist)
    splits = list(items_by_split)
    for i, a in enumerate(splits):
        for b in splits[i + 1:]:
            assert not (items_by_split[a] & items_by_split[b]), f"{a} and {b} share items"
    return n


def test_movielens_invariants(ml_bench):
    bench, params = ml_bench
    assert _check_invariants(bench, params) > 300
    counts = bench.manifest.counts.questions["test"]
    n = MOVIELENS_BUILD["n_items"]
    assert counts == {"easy": n, "medium": n, "hard": n}
    test_items = [{q.item_id for q in bench.questions("test", lv)} for lv in ("easy", "medium", "hard")]
    assert test_items[0] == test_items[1] == test_items[2], "same query items at every level"
    # members are not listed in truth order
    in_truth_order = sum(q.true_order() == list(range(q.n)) for q in bench.questions("test", "hard"))
    assert in_truth_order < 20


def test_parquet_files_have_the_one_definition_of_their_columns(ml_bench):
    from perrecbench.builder.columns import ITEMS_SCHEMA, REVIEWS_SCHEMA

    bench, _ = ml_bench
    for name, schema in (("reviews.parquet", REVIEWS_SCHEMA), ("items.parquet", ITEMS_SCHEMA)):
        assert pq.ParquetFile(bench.path / name).schema_arrow.equals(schema)


def test_amazon_sample_invariants(amazon_bench):
    bench, params = amazon_bench
    assert _check_invariants(bench, params) >= 5
    items = pq.read_table(bench.path / "items.parquet").to_pylist()
    titled = [i for i in items if i["title"]]
    assert titled and not any("&amp;" in i["title"] for i in titled)


def test_same_seed_byte_identical(tmp_path):
    ml = shared_path("data", "movielens-latest-small")
    params = BuildParams(seed=7, n_items=30, n_heldout=10, max_train=50)
    digests = []
    for name in ("a", "b"):
        out = tmp_path / name / "bench"  # same folder name: the manifest records it
        _build("movielens", [ml], None, out, params)
        files = sorted(p.name for p in out.iterdir())
        assert "manifest.json" in files and "reviews.parquet" in files
        digests.append({f: hashlib.sha256((out / f).read_bytes()).hexdigest() for f in files})
    assert digests[0] == digests[1]
    other = tmp_path / "c" / "bench"
    _build("movielens", [ml], None, other, BuildParams(seed=8, n_items=30, n_heldout=10, max_train=50))
    assert (other / "test-hard.jsonl").read_bytes() != (tmp_path / "a" / "bench" / "test-hard.jsonl").read_bytes()


def test_user_mean_all_reproduces_release_leak(tmp_path):
    ml = shared_path("data", "movielens-latest-small")
    params = BuildParams(seed=1, n_items=20, n_heldout=5, max_train=20, user_mean="all")
    _build("movielens", [ml], None, tmp_path / "b", params)
    bench = Benchmark(tmp_path / "b")
    reviews = pq.read_table(bench.path / "reviews.parquet").to_pylist()
    mean = defaultdict(list)
    for r in reviews:
        mean[r["user_id"]].append(r["rating"])
    for q in bench.questions("test", "medium"):
        for m in q.users:
            assert m.avg_rating == pytest.approx(np.mean(mean[m.user_id]), abs=1e-5)


def test_refuses_to_overwrite_foreign_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("precious")
    con = duckdb.connect()
    con.execute("CREATE TABLE raw_reviews(user_id VARCHAR, item_id VARCHAR, rating DOUBLE, timestamp BIGINT)")
    con.execute("CREATE TABLE raw_items(item_id VARCHAR, title VARCHAR, author VARCHAR, category VARCHAR, description VARCHAR)")
    with pytest.raises(ConfigError):
        build_benchmark(con, BuildParams(), tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "precious"


def test_gap_chain_is_longest_and_spaced():
    rel = [0.0, 0.2, 1.0, 1.1, 2.5, 2.6, 3.0]
    chain = gap_chain(rel, 1.0)
    vals = sorted(rel[i] for i in chain)
    assert vals == [0.0, 1.0, 2.5]  # greedy from the lowest is optimal for spacing
    assert gap_chain([1.0, 1.0, 1.0], 0.5) == [0]


def test_choose_group_respects_window_and_gap():
    ts = [0, 10, 20, 1000, 1010]
    rel = [0.0, 0.1, 0.2, 1.0, 2.0]
    rng = item_rng(0, "x", "easy")
    assert choose_group(ts, rel, 2, 0.5, window_ms=100, rng=rng) == [3, 4]
    assert choose_group(ts, rel, 3, 0.5, window_ms=100, rng=rng) is None
    assert sorted(choose_group(ts, rel, 3, 0.5, window_ms=2000, rng=rng)) in ([0, 3, 4], [1, 3, 4], [2, 3, 4])


def test_split_items_disjoint_and_shared_across_levels():
    by_level = {"easy": {f"i{k}" for k in range(50)}, "medium": {f"i{k}" for k in range(30)},
                "hard": {f"i{k}" for k in range(10, 40)}}
    s = split_items(by_level, n_test=10, n_heldout=5, max_train=None, seed=0)
    assert set(s["test"]["easy"]) == set(s["test"]["medium"]) == set(s["test"]["hard"])
    assert len(s["test"]["easy"]) == 10
    flat = {sp: set().union(*s[sp].values()) for sp in s}
    assert not (flat["test"] & flat["heldout"]) and not (flat["test"] & flat["train"])
    assert not (flat["heldout"] & flat["train"])
    for sp in s:
        for lv in s[sp]:
            assert set(s[sp][lv]) <= by_level[lv]
    assert split_items(by_level, 10, 5, None, seed=0) == s


def test_params_validation():
    with pytest.raises(ConfigError):
        BuildParams(user_mean="future")
    with pytest.raises(ConfigError):
        BuildParams(min_gap={"easy": 0.0, "medium": 0.5, "hard": 0.5})


def test_stream_is_uniform_and_reproducible():
    a, b = Stream(42), Stream(42)
    draws = [a.randrange(4) for _ in range(4000)]
    assert draws == [b.randrange(4) for _ in range(4000)]
    counts = [draws.count(k) for k in range(4)]
    assert all(900 < c < 1100 for c in counts)
    perm = list(Stream(1).permutation(50))
    assert sorted(perm) == list(range(50)) and perm != list(range(50))
    x = list(range(10))
    Stream(3).shuffle(x)
    assert sorted(x) == list(range(10))
    assert item_rng(0, "i", "easy").next64() != item_rng(1, "i", "easy").next64()
