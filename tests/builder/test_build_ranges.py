"""Big sorts and windows run one range of user or item codes at a time; the result must
not depend on where the ranges are cut."""

from __future__ import annotations

import hashlib

import duckdb
from conftest import shared_path

from perrecbench.builder import builder, sql
from perrecbench.builder.params import BuildParams
from perrecbench.data.sources import load_source


def _digests(out):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}


def test_code_ranges_cover_every_code_once_and_never_split_one():
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT (i % 97)::INTEGER AS u FROM range(10000) r(i)")
    con.execute("INSERT INTO t SELECT 40 FROM range(3000)")  # one code bigger than a range
    ranges = sql.code_ranges(con, "t", "u", 1000)
    assert ranges[0][0] == 0 and ranges[-1][1] == 96
    assert all(hi >= lo for lo, hi in ranges)
    assert all(b[0] == a[1] + 1 for a, b in zip(ranges, ranges[1:]))  # consecutive, no gaps
    sizes = [con.execute(f"SELECT count(*) FROM t WHERE u BETWEEN {lo} AND {hi}").fetchone()[0]
             for lo, hi in ranges]
    assert sum(sizes) == 13000 and max(sizes) >= 3000 and len(ranges) > 8


def test_build_identical_whatever_the_ranges(tmp_path, monkeypatch):
    ml = shared_path("data", "movielens-latest-small")
    params = BuildParams(seed=4, n_items=20, n_heldout=5, max_train=200)
    digests = []
    for rows in (10**9, 7_000):  # one range for everything; ~15 ranges per sort
        monkeypatch.setattr(sql, "rows_per_sort", lambda limit, rows=rows: rows)
        con = duckdb.connect()
        load_source(con, "movielens", [ml], None, {})
        out = tmp_path / str(rows) / "bench"
        builder.build_benchmark(con, params, out)
        digests.append(_digests(out))
        con.close()
    assert digests[0] == digests[1]
