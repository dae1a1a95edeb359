"""The builder's forked workers and numpy modes give exactly the single-process results."""

from __future__ import annotations

import hashlib
from collections import Counter

import duckdb
import numpy as np
from conftest import shared_path

from perrecbench.builder import builder
from perrecbench.builder.params import BuildParams


def _digests(out):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}


def test_build_identical_for_any_worker_count(tmp_path, monkeypatch):
    from perrecbench.data.sources import load_source

    ml = shared_path("data", "movielens-latest-small")
    monkeypatch.setattr(builder, "PARALLEL_MIN_ROWS", 0)  # fork even for this small input
    params = BuildParams(seed=2, n_items=20, n_heldout=5, max_train=300)
    digests = []
    for workers in (1, 2, 3):
        con = duckdb.connect()
        load_source(con, "movielens", [ml], None, {})
        out = tmp_path / str(workers) / "bench"
        manifest = builder.build_benchmark(con, params, out, workers=workers)
        digests.append(_digests(out))
        con.close()
    assert manifest.counts.questions["train"]["easy"] > 50
    assert digests[0] == digests[1] == digests[2]


def _mode_by_hand(run: list[float]) -> float | None:
    if not run:
        return None
    counts = Counter(run)
    best = max(counts.values())
    return next(v for v in run if counts[v] == best)  # ties: the value seen first


def test_run_modes_match_counting_by_hand():
    rng = np.random.default_rng(0)
    values = rng.choice([1.0, 2.0, 3.0, 4.5, 5.0], size=3000)
    starts = rng.integers(0, 2900, size=500)
    lengths = rng.integers(0, 60, size=500)
    lengths = np.minimum(lengths, len(values) - starts)
    got = builder.run_modes(values, starts, lengths)
    for s, k, m in zip(starts, lengths, got, strict=True):
        want = _mode_by_hand(values[s:s + k].tolist())
        assert (np.isnan(m) and want is None) or m == want
    # [2, 1, 1, 2]: a tie, and 2 came first
    assert builder.run_modes(np.array([2.0, 1.0, 1.0, 2.0]), np.array([0]), np.array([4]))[0] == 2.0
    assert builder.run_modes(np.arange(100.0), np.array([0]), np.array([5])) is None  # too many values
