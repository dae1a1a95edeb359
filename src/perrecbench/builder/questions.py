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
from collections import deque
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ..bench import questions_file, write_questions
from ..types import Member, Question
from . import sql
from .grouping import item_rng
from .params import BuildParams
from .pool import WorkerPool
from .stream import from_ipc, numbers, run_starts, sorted_batches, to_ipc, whole_runs

Progress = Callable[[str, int, int], None]

CHUNK_ROWS = 20_000  # member rows per part
STAGE = "writing questions"
COLUMNS = ("user_id", "rating", "relative_rating", "avg_rating", "mode", "hist_n", "timestamp")


def write_part(params: BuildParams, task: tuple) -> int:
    """Write one chunk of questions (one file's, whole questions) to its part file; returns how many."""
    split, level, data, path = task
    chunk = from_ipc(data)
    bounds = run_starts(chunk.column("item_id")).tolist()
    item_ids = chunk.column("item_id").take(pa.array(bounds[:-1])).to_pylist()
    user, rating, rel, avg, mode, hist_n, ts = (chunk.column(c).to_pylist() for c in COLUMNS)
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


def _tasks(cur: duckdb.DuckDBPyConnection, parts: Path):
    """(split, level, IPC bytes of whole questions, part path), in file order."""
    j = 0
    for chunk in whole_runs(sorted_batches(cur, sql.sorted_questions()), "item_id", CHUNK_ROWS):
        split, level = chunk.column("split"), chunk.column("level")
        n = chunk.num_rows
        cuts = numbers(pc.indices_nonzero(pc.or_(pc.not_equal(split.slice(1), split.slice(0, n - 1)),
                                         pc.not_equal(level.slice(1), level.slice(0, n - 1)))))
        bounds = [0, *(cuts + 1).tolist(), n]
        for lo, hi in zip(bounds, bounds[1:]):
            part = chunk.slice(lo, hi - lo)
            yield (split[lo].as_py(), level[lo].as_py(), to_ipc(part.select(["item_id", *COLUMNS])),
                   parts / f"part-{j}.jsonl")
            j += 1


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
    counts: dict[str, dict[str, int]] = {split: {lv: 0 for lv in by_level} for split, by_level in splits.items()}
    files = {(split, lv): open(questions_file(out, split, lv), "wb")
             for split, by_level in splits.items() for lv in by_level}
    cur = con.cursor()
    try:
        paths: deque[tuple[str, str, Path]] = deque()

        def tasks():
            for task in _tasks(cur, parts):
                paths.append((task[0], task[1], task[3]))
                yield task

        for written in pool.map(write_part, tasks(), parallel=parallel):
            split, level, path = paths.popleft()
            with open(path, "rb") as src:
                shutil.copyfileobj(src, files[(split, level)], 1 << 20)
            os.unlink(path)
            counts[split][level] += written
            done += written
            progress(STAGE, done, total)
    finally:
        cur.close()
        for fh in files.values():
            fh.close()
    shutil.rmtree(parts)
    return counts
