"""Build a benchmark directory from the `raw_reviews` / `raw_items` tables of a connection.

Row work is DuckDB SQL (`sql`); the per-item group search and the question lines are
pure Python, spread over forked worker processes when there is enough of it (each
item's result depends only on the item, so output never depends on the worker count).
Every stage streams: Python holds chunks, never a whole table (`search`, `context`,
`questions`), so memory is DuckDB's limit plus a bounded amount.

The connection's settings are its creator's (`data.duck.connect`, fixed once); the
builder changes none of them, and is told the memory limit (`memory_limit`, bytes, as
`connect` returned it) rather than reading it back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ..bench import ITEMS, REVIEWS, write_manifest
from ..constants import __version__
from ..errors import InputDataError
from ..records import BenchCounts, BenchManifest
from . import sql
from .context import MAX_MODE_VALUES, run_modes, write_context
from .params import BuildParams
from .pool import WorkerPool, default_workers
from .questions import write_questions_files
from .search import search_groups
from .splits import split_items
from .staging import staged_directory

Progress = Callable[[str, int, int], None]  # (stage, done, total)

PARALLEL_MIN_ROWS = 200_000  # below this many candidate rows, forking costs more than it saves

__all__ = ["MAX_MODE_VALUES", "PARALLEL_MIN_ROWS", "build_benchmark", "default_workers",
           "run_modes", "write_benchmark"]


def _noop(stage: str, done: int, total: int) -> None:
    pass


def _picks(splits: dict[str, dict[str, list[str]]]) -> pa.Table:
    """(split, level, item_id) of every question, as Arrow (no Python row tuples)."""
    tables = [pa.table({"split": pa.array([split] * len(ids), type=pa.string()),
                        "level": pa.array([lv] * len(ids), type=pa.string()),
                        "item_id": pa.array(ids, type=pa.string())})
              for split, by_level in splits.items() for lv, ids in by_level.items()]
    if not tables:
        return pa.table({c: pa.array([], type=pa.string()) for c in ("split", "level", "item_id")})
    return pa.concat_tables(tables)


def write_benchmark(
    con: duckdb.DuckDBPyConnection,
    params: BuildParams,
    out: Path,
    inputs: dict[str, Any] | None = None,
    name: str | None = None,
    progress: Progress = _noop,
    workers: int | None = None,
    pool: WorkerPool | None = None,
    memory_limit: int | None = None,
) -> BenchManifest:
    """Write the benchmark files into the existing, empty directory `out`; returns the
    manifest. Deterministic for input + params, whatever `workers` (processes for the
    Python stages; default `default_workers()`) or DuckDB's memory limit and threads.
    `build_benchmark` is the same, written atomically to its final place.

    `memory_limit`: the limit `con` was made with (bytes, `data.duck.connect`'s
    `Connection.memory_limit`); big sorts are cut to fit it (`sql.rows_per_sort`).

    `pool`: workers forked before DuckDB held any data (what `pipeline` does). Without
    one, they are forked when the first parallel stage starts, after the load: each
    then keeps a copy-on-write image of DuckDB's memory of that moment while DuckDB
    rewrites its own, which can double the peak at scale (fine for small inputs)."""
    out = Path(out)
    sort_rows = sql.rows_per_sort(memory_limit)
    if pool is not None:
        return _write(con, params, out, inputs, name, progress, pool, sort_rows)
    workers = default_workers() if workers is None else max(1, int(workers))
    with WorkerPool(params, workers) as own:
        return _write(con, params, out, inputs, name, progress, own, sort_rows)


def _write(con: duckdb.DuckDBPyConnection, params: BuildParams, out: Path, inputs: dict[str, Any] | None,
           name: str | None, progress: Progress, pool: WorkerPool, sort_rows: int | None) -> BenchManifest:
    progress("coding users and items", 0, 1)
    n_raw = sql.scalar(con, "SELECT count(*) FROM raw_reviews")
    if n_raw == 0:
        raise InputDataError("the input has no reviews")
    sql.encode(con)
    ranges = sql.code_ranges(con, "coded", "u", sort_rows)
    stage = "deduplicating reviews, user statistics (strictly earlier reviews)"
    progress(stage, 0, len(ranges))
    n_reviews = sql.review_stats(con, params, ranges, lambda k: progress(stage, k, len(ranges)))
    progress("candidate raters", 0, 1)
    min_group = min(params.group_size[lv] for lv in params.levels)
    n_cands = sql.create_candidates(con, params, min_group)
    parallel = n_cands >= PARALLEL_MIN_ROWS
    found = search_groups(con, params, pool, n_cands, progress, parallel=parallel, rows_per_sort=sort_rows)
    progress("splitting items", 0, 1)
    splits = split_items(found.items, params.n_items, params.n_heldout, params.max_train, params.seed)
    sql.pick_members(con, _picks(splits))
    progress("context reviews", 0, 1)
    n_context = sql.context(con)
    progress("writing reviews.parquet, items.parquet, member statistics", 0, 1)
    context_counts = write_context(con, out, REVIEWS, ITEMS, params.user_mean, sort_rows)
    if context_counts["context"] != n_context:
        raise RuntimeError("internal error: reviews.parquet lost rows")
    n_members = sql.scalar(con, "SELECT count(*) FROM q_members")
    counts = write_questions_files(con, params, splits, out, pool, progress,
                                   parallel=parallel and n_members >= PARALLEL_MIN_ROWS // 8)
    for table in ("q_members", "picks", "ctx", "modes", "_users", "_items"):
        con.execute(f"DROP TABLE IF EXISTS {table}")

    manifest = BenchManifest(
        name=name or out.name,
        kind="perrecbench",
        tool_version=__version__,
        params=params.to_dict(),
        inputs=inputs or {},
        counts=BenchCounts(
            raw_reviews=int(n_raw),
            reviews_after_dedupe=int(n_reviews),
            candidate_raters=int(n_cands),
            items_with_group={lv: len(found.items[lv]) for lv in params.levels},
            questions=counts,
            context_reviews=int(context_counts["context"]),
            items_without_metadata=int(context_counts["missing_meta"]),
        ),
        files={"questions": "{split}-{level}.jsonl", "reviews": REVIEWS, "items": ITEMS},
    )
    record = write_manifest(out, manifest)
    progress("done", 1, 1)
    return record


def build_benchmark(
    con: duckdb.DuckDBPyConnection,
    params: BuildParams,
    out_dir: Path,
    inputs: dict[str, Any] | None = None,
    name: str | None = None,
    progress: Progress = _noop,
    workers: int | None = None,
    memory_limit: int | None = None,
) -> BenchManifest:
    """Write the benchmark to `out_dir` (via `<out_dir>.building`, see `staging`); returns
    its manifest. Refuses to replace a folder that is not a benchmark."""
    out_dir = Path(out_dir)
    with staged_directory(out_dir) as tmp:
        return write_benchmark(con, params, tmp, inputs, name or out_dir.name, progress, workers,
                               memory_limit=memory_limit)
