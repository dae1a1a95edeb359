"""The group search over candidate raters, streamed from DuckDB in chunks of whole items.

Why: candidate raters are most of the reviews at Books scale; holding them as Python
lists (and letting forked workers copy them) is what made memory grow with the
input. Here the sorted candidates are read chunk by chunk, each chunk's item
boundaries, times and relative ratings go to a worker as a small task, and the
members of the groups found are appended to the DuckDB table `members`; Python
keeps only the item ids that have a group, per level.

`members`: one row per member of each (level, item) group: `member_id` (unique),
`level`, `item_id`, `pos` (the member's place in the group before the question's
shuffle: candidate order, i.e. time then user), and the candidate's columns.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa

from . import sql
from .grouping import choose_group, item_rng
from .params import BuildParams
from .pool import WorkerPool
from .stream import from_ipc, run_starts, sorted_batches, to_ipc, whole_runs

Progress = Callable[[str, int, int], None]

CHUNK_ROWS = 50_000  # candidate rows per task: small to ship, big enough to amortise
FLUSH_ROWS = 200_000  # member rows gathered before one INSERT into `members`
STAGE = "grouping items"


@dataclass
class SearchResult:
    n_candidates: int = 0
    items: dict[str, set[str]] = field(default_factory=dict)  # level -> items with a group
    n_members: int = 0


def search_chunk(params: BuildParams, task: bytes) -> list[tuple[str, list[str], list[int], list[int]]]:
    """Groups of one chunk (IPC bytes of item_id, timestamp, relative_rating, sorted):
    per level (level, [item with a group], [its group's size], [chunk rows of the members])."""
    chunk = from_ipc(task)
    starts = run_starts(chunk.column("item_id")).tolist()
    item_ids = chunk.column("item_id").take(pa.array(starts[:-1])).to_pylist()
    ts, rel = chunk.column("timestamp").to_pylist(), chunk.column("relative_rating").to_pylist()
    out = []
    for lv in params.levels:
        n, gap = params.group_size[lv], params.min_gap[lv]
        found: list[str] = []
        sizes: list[int] = []
        rows_out: list[int] = []
        for k, item_id in enumerate(item_ids):
            s, e = starts[k], starts[k + 1]
            if e - s < n:
                continue
            rows = choose_group(ts[s:e], rel[s:e], n, gap, params.window_ms,
                                item_rng(params.seed, item_id, lv), params.max_candidates)
            if rows is not None:
                found.append(item_id)
                sizes.append(len(rows))
                rows_out.extend(s + r for r in rows)
        out.append((lv, found, sizes, rows_out))
    return out


class _MemberWriter:
    """Buffers member rows and appends them to `members` in a few big INSERTs."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.pending: list[pa.Table] = []
        self.n_pending = 0
        self.next_id = 0

    def add(self, chunk: pa.Table, level: str, sizes: list[int], rows: list[int]) -> None:
        """Members of the groups found in `chunk`: `rows` (chunk rows), `sizes` per group."""
        if not rows:
            return
        picked = chunk.take(pa.array(rows, type=pa.int64()))
        per_group = np.asarray(sizes, dtype=np.int64)
        pos = np.arange(len(rows)) - np.repeat(np.cumsum(per_group) - per_group, per_group)
        ids = np.arange(self.next_id, self.next_id + len(rows), dtype=np.int64)
        self.next_id += len(rows)
        table = pa.table({
            "member_id": ids,
            "level": pa.array([level] * len(rows), type=pa.string()),
            "pos": pa.array(pos, type=pa.int32()),
            **{name: picked.column(name) for name in sql.CANDIDATE_COLUMNS},
        })
        self.pending.append(table)
        self.n_pending += len(rows)
        if self.n_pending >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        self.con.register("_new_members", pa.concat_tables(self.pending))
        self.con.execute("INSERT INTO members SELECT * FROM _new_members")
        self.con.unregister("_new_members")
        self.pending, self.n_pending = [], 0


def search_groups(
    con: duckdb.DuckDBPyConnection, params: BuildParams, pool: WorkerPool, n_candidates: int,
    progress: Progress, parallel: bool = True, rows_per_sort: int | None = None,
) -> SearchResult:
    """Run the group search over `candidates`; fills `members` (see the module doc).
    `rows_per_sort`: see `sql.rows_per_sort`."""
    result = SearchResult(n_candidates=n_candidates, items={lv: set() for lv in params.levels})
    sql.create_members(con)
    writer = _MemberWriter(con)
    stream = con.cursor()  # the stream needs a cursor of its own while `con` inserts
    chunks: deque[pa.Table] = deque()

    ranges = sql.code_ranges(con, "candidates", "i", rows_per_sort)

    def batches():  # item range by item range: each sort fits in memory, the whole is in order
        for lo, hi in ranges:
            yield from sorted_batches(stream, sql.sorted_candidates(lo, hi))

    def tasks():
        for chunk in whole_runs(batches(), "item_id", CHUNK_ROWS):
            chunks.append(chunk)
            yield to_ipc(chunk.select(["item_id", "timestamp", "relative_rating"]))

    done = 0
    progress(STAGE, 0, n_candidates)
    try:
        for found in pool.map(search_chunk, tasks(), parallel=parallel):
            chunk = chunks.popleft()
            for lv, items, sizes, rows in found:
                result.items[lv].update(items)
                writer.add(chunk, lv, sizes, rows)
            done += chunk.num_rows
            progress(STAGE, done, n_candidates)
        writer.flush()
    finally:
        stream.close()
    result.n_members = writer.next_id
    return result
