"""reviews.parquet, items.parquet and each member's most common rating, in one pass.

Why: the context is most of the reviews at Books scale. It is sorted once by DuckDB
and read once, in batches: each batch goes to the Parquet file and its ratings to
the most-common-rating computation, which only needs, per member, the first `k`
ratings of its user's run (a user's reviews are contiguous and oldest first).
Python holds one batch plus the current user's run; the modes go to the DuckDB
table `modes(member_id, mode)` in batches.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from . import sql
from .columns import items_sink, reviews_sink
from .stream import BATCH_ROWS, numbers, sorted_batches

MAX_MODE_VALUES = 64  # distinct ratings up to which modes are counted in numpy (else SQL)
FLUSH_ROWS = 200_000  # modes gathered before one INSERT


def run_modes(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray | None:
    """Most common entry of each run `values[s:s+k]`, ties to the one that comes first; NaN
    for empty runs. None when there are more than MAX_MODE_VALUES distinct values.

    One pass per distinct value (ratings take a handful): prefix counts give each run's
    count, a binary search its first position.
    """
    distinct = np.unique(values)
    if len(distinct) > MAX_MODE_VALUES:
        return None
    stops = starts + lengths
    best = np.full(len(starts), np.nan)
    best_n = np.zeros(len(starts), dtype=np.int64)
    best_first = np.full(len(starts), np.iinfo(np.int64).max)
    for v in distinct:
        hit = values == v
        cum = np.concatenate(([0], np.cumsum(hit, dtype=np.int64)))
        n = cum[stops] - cum[starts]
        pos = np.flatnonzero(hit)
        first = pos[np.minimum(np.searchsorted(pos, starts), len(pos) - 1)]
        better = (n > best_n) | ((n == best_n) & (n > 0) & (first < best_first))
        best = np.where(better, v, best)
        best_n = np.where(better, n, best_n)
        best_first = np.where(better, first, best_first)
    return best


class _Modes:
    """Consumes the sorted context's ratings and the members sorted by run start."""

    def __init__(self, con: duckdb.DuckDBPyConnection, members) -> None:
        self.con = con
        self.members = members  # iterator of record batches (member_id, start, n, k)
        self.ids = np.zeros(0, dtype=np.int64)
        self.starts = self.ends = self.ks = self.ids
        self.buf = np.zeros(0)
        self.buf_start = 0  # context position of buf[0]
        self.out_ids: list[np.ndarray] = []
        self.out_modes: list[np.ndarray] = []
        self.n_out = 0
        self.exhausted = False

    def _more_members(self) -> bool:
        batch = next(self.members, None)
        if batch is None:
            self.exhausted = True
            return False
        cols = {name: numbers(batch.column(name)) for name in ("member_id", "start", "n", "k")}
        self.ids = np.concatenate((self.ids, cols["member_id"].astype(np.int64)))
        self.starts = np.concatenate((self.starts, cols["start"].astype(np.int64)))
        self.ends = np.concatenate((self.ends, (cols["start"] + cols["n"]).astype(np.int64)))
        self.ks = np.concatenate((self.ks, cols["k"].astype(np.int64)))
        return True

    def add(self, ratings: np.ndarray) -> None:
        """The next ratings of the sorted context: modes of the members whose run is complete."""
        self.buf = np.concatenate((self.buf, ratings.astype(np.float64)))
        end = self.buf_start + len(self.buf)
        # members come by run start; one starting at or after `end` cannot be complete yet
        while not self.exhausted and (len(self.starts) == 0 or self.starts[-1] < end):
            self._more_members()
        ready = int(np.searchsorted(self.ends, end, side="right"))  # runs end in order
        if ready:
            modes = run_modes(self.buf, self.starts[:ready] - self.buf_start, self.ks[:ready])
            if modes is None:
                raise RuntimeError("internal error: more distinct ratings than checked")
            self._emit(self.ids[:ready], modes)
            self.ids, self.starts = self.ids[ready:], self.starts[ready:]
            self.ends, self.ks = self.ends[ready:], self.ks[ready:]
        keep_from = min(int(self.starts[0]), end) if len(self.starts) else end
        self.buf = self.buf[keep_from - self.buf_start:]
        self.buf_start = keep_from

    def finish(self) -> None:
        if len(self.ids) or not self.exhausted and self._more_members():
            raise RuntimeError("internal error: members whose user is missing from the context")
        self.flush()

    def _emit(self, ids: np.ndarray, modes: np.ndarray) -> None:
        self.out_ids.append(ids)
        self.out_modes.append(modes)
        self.n_out += len(ids)
        if self.n_out >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.out_ids:
            return
        table = pa.table({"member_id": np.concatenate(self.out_ids),
                          "mode": pa.array(np.concatenate(self.out_modes), from_pandas=True)})
        self.con.register("_new_modes", table)
        self.con.execute("INSERT INTO modes SELECT * FROM _new_modes")
        self.con.unregister("_new_modes")
        self.out_ids, self.out_modes, self.n_out = [], [], 0


def modes_in_sql(con: duckdb.DuckDBPyConnection, user_mean: str) -> None:
    """`modes` for sources with many distinct rating values (the numpy way counts per value).

    Ties go to the rating the user gave first (time, then item id), as in `run_modes`.
    """
    cond = 'r."timestamp" < m."timestamp"' if user_mean == "history" else "TRUE"
    con.execute(
        f"""
        INSERT INTO modes
        WITH seqd AS (
            SELECT u, rating, "timestamp",
                   row_number() OVER (PARTITION BY u ORDER BY "timestamp", i) AS seq
            FROM ctx SEMI JOIN (SELECT DISTINCT u FROM q_members) m USING (u)
        ), h AS (
            SELECT m.member_id, r.rating, count(*) AS c, min(r.seq) AS first_seq
            FROM q_members m JOIN seqd r ON r.u = m.u AND {cond}
            GROUP BY m.member_id, r.rating
        )
        SELECT member_id, rating FROM h
        QUALIFY row_number() OVER (PARTITION BY member_id ORDER BY c DESC, first_seq) = 1
        """
    )


def write_context(con: duckdb.DuckDBPyConnection, out: Path, reviews: str, items: str,
                  user_mean: str, rows_per_sort: int | None = None) -> dict[str, int]:
    """Write `out/reviews` and `out/items` from `ctx` (columns: `columns`), and fill
    `modes`; returns counts. `rows_per_sort`: see `sql.rows_per_sort`."""
    con.execute("CREATE OR REPLACE TABLE modes (member_id BIGINT, mode DOUBLE)")
    numpy_modes = sql.scalar(con, "SELECT count(DISTINCT rating) FROM ctx") <= MAX_MODE_VALUES
    rows_cur, members_cur = con.cursor(), con.cursor()
    try:
        ranges = sql.code_ranges(con, "ctx", "u", rows_per_sort)
        modes = _Modes(con, sorted_batches(members_cur, sql.member_runs(user_mean))) if numpy_modes else None
        with reviews_sink(out / reviews) as sink:
            # user range by user range: each sort fits in memory, the whole is in order
            for lo, hi in ranges:
                for batch in sorted_batches(rows_cur, sql.sorted_context(lo, hi)):
                    sink.write(batch)
                    if modes is not None:
                        modes.add(numbers(batch.column("rating")))
        if modes is not None:
            modes.finish()
    finally:
        rows_cur.close()
        members_cur.close()
    if not numpy_modes:
        modes_in_sql(con, user_mean)
    items_cur = con.cursor()
    try:
        with items_sink(out / items) as item_rows:
            for batch in items_cur.sql(sql.sorted_items()).to_arrow_reader(BATCH_ROWS):
                item_rows.write(batch)
    finally:
        items_cur.close()
    missing = sql.scalar(con, f"SELECT count(*) FROM read_parquet('{out / items}') WHERE title IS NULL")
    return {"context": sink.rows, "missing_meta": int(missing)}


__all__ = ["BATCH_ROWS", "MAX_MODE_VALUES", "modes_in_sql", "run_modes", "write_context"]
