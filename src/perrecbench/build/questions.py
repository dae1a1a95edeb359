"""The questions files, written from `q_members` in chunks by forked workers.

Why: one file per split and level, each listing its items in id order; at Books
scale the members do not fit in Python at once. Each file's members are read
sorted (item, place in the group), cut into chunks of whole questions, and each
chunk becomes one part written by a worker with `bench.write_questions` (the one
definition of the line format); parts are appended in order, so the bytes never
depend on the worker count or the chunk size.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa

from ..bench import questions_file, write_questions
from ..types import Member, Question
from . import sql
from .grouping import item_rng
from .params import BuildParams
from .pool import WorkerPool
from .stream import run_starts, sorted_batches, whole_runs

Progress = Callable[[str, int, int], None]

CHUNK_ROWS = 20_000  # member rows per part
STAGE = "writing questions"
COLUMNS = ("user_id", "rating", "relative_rating", "avg_rating", "mode", "hist_n", "timestamp")


def write_part(params: BuildParams, task: tuple) -> int:
    """Write one chunk of questions to its part file; returns how many."""
    split, level, item_ids, starts, cols, path = task
    user, rating, rel, avg, mode, hist_n, ts = (cols[c] for c in COLUMNS)
    bounds = starts.tolist()
    qs = []
    for k, item_id in enumerate(item_ids):
        members = [
            Member(user_id=user[i], rating=float(rating[i]), relative_rating=round(float(rel[i]), 6),
                   avg_rating=round(float(avg[i]), 6), most_common_rating=float(mode[i]),
                   history_len=int(hist_n[i]), timestamp=int(ts[i]))
            for i in range(bounds[k], bounds[k + 1])
        ]
        item_rng(params.seed, item_id, level + "/order").shuffle(members)  # never in truth order
        qs.append(Question(
            id=f"{level}-{item_id}", level=level, split=split, item_id=item_id,
            query_time=min(m.timestamp for m in members), users=tuple(members),
        ))
    return write_questions(path, qs)


def _tasks(cur: duckdb.DuckDBPyConnection, split: str, level: str, parts: Path):
    for j, chunk in enumerate(whole_runs(sorted_batches(cur, sql.sorted_questions(split, level)),
                                         "item_id", CHUNK_ROWS)):
        starts = run_starts(chunk.column("item_id"))
        item_ids = chunk.column("item_id").take(pa.array(starts[:-1])).to_pylist()
        cols = {c: chunk.column(c).to_pylist() for c in COLUMNS}
        yield split, level, item_ids, starts, cols, _part_path(parts, split, level, j)


def _part_path(parts: Path, split: str, level: str, j: int) -> Path:
    return parts / f"{split}-{level}.{j}"


def write_questions_files(
    con: duckdb.DuckDBPyConnection, params: BuildParams, splits: dict[str, dict[str, list[str]]],
    out: Path, pool: WorkerPool, progress: Progress, parallel: bool = True,
) -> dict[str, dict[str, int]]:
    """Write {split}-{level}.jsonl for every split and level into `out`; returns counts."""
    parts = out / "parts"
    parts.mkdir()
    total = sum(len(ids) for by_level in splits.values() for ids in by_level.values())
    done = 0
    progress(STAGE, 0, total)
    counts: dict[str, dict[str, int]] = {split: {} for split in splits}
    cur = con.cursor()
    try:
        for split, by_level in splits.items():
            for level in by_level:
                n = 0
                with open(questions_file(out, split, level), "wb") as dst:
                    results = pool.map(write_part, _tasks(cur, split, level, parts), parallel=parallel)
                    for j, written in enumerate(results):
                        part = _part_path(parts, split, level, j)
                        with open(part, "rb") as src:
                            shutil.copyfileobj(src, dst, 1 << 20)
                        os.unlink(part)
                        n += written
                        done += written
                        progress(STAGE, done, total)
                counts[split][level] = n
    finally:
        cur.close()
    shutil.rmtree(parts)
    return counts
