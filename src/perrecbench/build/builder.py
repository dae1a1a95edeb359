"""Build a benchmark directory from the `raw_reviews` / `raw_items` tables of a connection."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from .. import __version__
from ..bench import ITEMS, REVIEWS, questions_file, write_manifest, write_questions
from ..errors import ConfigError, InputDataError
from ..types import Member, Question
from . import sql
from .grouping import choose_group, item_rng
from .params import BuildParams
from .splits import split_items

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def _noop(stage: str, done: int, total: int) -> None:
    pass


def select_groups(cands, params: BuildParams, progress: Progress = _noop) -> dict[str, dict[str, list[int]]]:
    """{level: {item_id: [candidate row indices]}} — at most one group per item and level."""
    items = cands.column("item_id").to_numpy(zero_copy_only=False)
    ts = cands.column("timestamp").to_numpy().astype(np.int64)
    rel = cands.column("relative_rating").to_numpy().astype(np.float64)
    users = cands.column("user_id").to_pylist()
    groups: dict[str, dict[str, list[int]]] = {lv: {} for lv in params.levels}
    if len(items) == 0:
        return groups
    bounds = np.flatnonzero(items[1:] != items[:-1]) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(items)]])
    total = len(starts)
    for k, (s, e) in enumerate(zip(starts, ends)):
        item_id = str(items[s])
        for lv in params.levels:
            n = params.group_size[lv]
            if e - s < n:
                continue
            rows = choose_group(
                ts[s:e], rel[s:e], users[s:e], n, params.min_gap[lv], params.window_ms,
                item_rng(params.seed, item_id, lv), params.max_candidates,
            )
            if rows is not None:
                groups[lv][item_id] = [s + r for r in rows]
        if k % 2000 == 0 or k == total - 1:
            progress("grouping items", k + 1, total)
    return groups


class RatingModes:
    """Most common rating of a user's reviews before any time, from cumulative counts.

    Ties go to the rating the user gave first (as `Counter.most_common` on the
    time-ordered list would), a documented choice: the release does not say.
    """

    def __init__(self, ratings: list[float], timestamps: list[int]):
        self.ts = np.asarray(timestamps, dtype=np.int64)
        values, first, inverse = np.unique(np.asarray(ratings), return_index=True, return_inverse=True)
        self.values, self.first = values, first
        onehot = np.zeros((len(ratings), len(values)), dtype=np.int32)
        onehot[np.arange(len(ratings)), inverse] = 1
        self.cum = np.cumsum(onehot, axis=0)

    def most_common(self, before: int | None) -> float:
        k = len(self.ts) if before is None else int(np.searchsorted(self.ts, before, side="left"))
        if k == 0:
            return float("nan")
        counts = self.cum[k - 1]
        best = counts.max()
        tied = np.flatnonzero(counts == best)
        return float(self.values[tied[np.argmin(self.first[tied])]])


def _temp_ids(con: duckdb.DuckDBPyConnection, table: str, column: str, ids: list[str]) -> None:
    """A one-column temp table from a Python list, via Arrow (executemany is row by row)."""
    arrow = pa.table({column: pa.array(ids, type=pa.string())})
    con.register("_ids_view", arrow)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM _ids_view")
    con.unregister("_ids_view")


def _check_out_dir(out_dir: Path) -> None:
    """Refuse to replace a folder that is neither empty nor an earlier benchmark."""
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / "manifest.json").exists():
        raise ConfigError(f"{out_dir} exists and is not a benchmark directory; choose another --out")


def build_benchmark(
    con: duckdb.DuckDBPyConnection,
    params: BuildParams,
    out_dir: Path,
    inputs: dict[str, Any] | None = None,
    name: str | None = None,
    progress: Progress = _noop,
    memory_limit: str | None = "2GB",
) -> dict[str, Any]:
    """Write the benchmark; returns its manifest. Deterministic for input + params."""
    out_dir = Path(out_dir)
    _check_out_dir(out_dir)
    tmp = out_dir.parent / (out_dir.name + ".building")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    sql.configure(con, memory_limit, str(tmp / "duckdb-tmp"))

    progress("deduplicating reviews", 0, 1)
    n_raw = con.execute("SELECT count(*) FROM raw_reviews").fetchone()[0]
    if n_raw == 0:
        raise InputDataError("the input has no reviews")
    n_reviews = sql.dedupe(con)
    progress("user statistics (strictly earlier reviews)", 0, 1)
    sql.user_stats(con, params)
    min_group = min(params.group_size[lv] for lv in params.levels)
    cands = sql.candidates(con, params, min_group)
    groups = select_groups(cands, params, progress)
    items_by_level = {lv: set(groups[lv]) for lv in params.levels}
    splits = split_items(items_by_level, params.n_items, params.n_heldout, params.max_train, params.seed)

    # members and their most common earlier rating (needs the members' time-ordered ratings)
    col = {c: cands.column(c).to_pylist() for c in
           ("item_id", "user_id", "timestamp", "rating", "avg_rating", "hist_n", "relative_rating")}
    chosen: dict[tuple[str, str, str], list[int]] = {}
    for split, by_level in splits.items():
        for lv, item_ids in by_level.items():
            for it in item_ids:
                chosen[(split, lv, it)] = groups[lv][it]
    member_users = sorted({col["user_id"][r] for rows in chosen.values() for r in rows})
    progress("collecting member histories", 0, 1)
    _temp_ids(con, "q_users", "user_id", member_users)
    hist = con.execute(
        """SELECT r.user_id, list(r.rating ORDER BY r."timestamp", r.item_id) AS ratings,
                  list(r."timestamp" ORDER BY r."timestamp", r.item_id) AS ts
           FROM reviews r SEMI JOIN q_users q ON r.user_id = q.user_id GROUP BY r.user_id"""
    ).fetchall()
    modes = {u: RatingModes(rs, tss) for u, rs, tss in hist}

    def member(r: int) -> Member:
        u, t = col["user_id"][r], int(col["timestamp"][r])
        before = None if params.user_mean == "all" else t
        return Member(
            user_id=u,
            rating=float(col["rating"][r]),
            relative_rating=round(float(col["relative_rating"][r]), 6),
            avg_rating=round(float(col["avg_rating"][r]), 6),
            most_common_rating=modes[u].most_common(before),
            history_len=int(col["hist_n"][r]),
            timestamp=t,
        )

    counts: dict[str, dict[str, int]] = {}
    query_items: set[str] = set()
    for split, by_level in splits.items():
        counts[split] = {}
        for lv, item_ids in by_level.items():
            qs = []
            for it in item_ids:
                rows = chosen[(split, lv, it)]
                members = [member(r) for r in rows]
                item_rng(params.seed, it, lv + "/order").shuffle(members)  # never in truth order
                qs.append(Question(
                    id=f"{lv}-{it}", level=lv, split=split, item_id=it,
                    query_time=min(m.timestamp for m in members), users=tuple(members),
                ))
                query_items.add(it)
            counts[split][lv] = write_questions(questions_file(tmp, split, lv), qs)

    progress("writing context reviews and items", 0, 1)
    _temp_ids(con, "q_items", "item_id", sorted(query_items))
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET threads = 1")  # one writer thread: byte-identical parquet for the same input
    con.execute(
        f"""COPY (
              SELECT user_id, item_id, rating, "timestamp" FROM reviews
              WHERE user_id IN (SELECT user_id FROM q_users)
                 OR item_id IN (SELECT item_id FROM q_items)
              ORDER BY user_id, "timestamp", item_id
            ) TO '{tmp / REVIEWS}' (FORMAT parquet, COMPRESSION zstd)"""
    )
    con.execute(
        f"""COPY (
              WITH used AS (SELECT DISTINCT item_id FROM read_parquet('{tmp / REVIEWS}')),
              meta AS (
                SELECT item_id, any_value(title ORDER BY title) AS title,
                       any_value(author ORDER BY author) AS author,
                       any_value(category ORDER BY category) AS category,
                       any_value(description ORDER BY description) AS description
                FROM raw_items GROUP BY item_id)
              SELECT u.item_id, m.title, m.author, m.category, m.description
              FROM used u LEFT JOIN meta m ON u.item_id = m.item_id
              ORDER BY u.item_id
            ) TO '{tmp / ITEMS}' (FORMAT parquet, COMPRESSION zstd)"""
    )
    n_context = con.execute(f"SELECT count(*) FROM read_parquet('{tmp / REVIEWS}')").fetchone()[0]
    n_missing_meta = con.execute(
        f"SELECT count(*) FROM read_parquet('{tmp / ITEMS}') WHERE title IS NULL"
    ).fetchone()[0]
    shutil.rmtree(tmp / "duckdb-tmp", ignore_errors=True)

    manifest = {
        "name": name or out_dir.name,
        "kind": "perrecbench",
        "tool_version": __version__,
        "params": params.to_dict(),
        "inputs": inputs or {},
        "counts": {
            "raw_reviews": int(n_raw),
            "reviews_after_dedupe": int(n_reviews),
            "candidate_raters": int(cands.num_rows),
            "items_with_group": {lv: len(groups[lv]) for lv in params.levels},
            "questions": counts,
            "context_reviews": int(n_context),
            "items_without_metadata": int(n_missing_meta),
        },
        "files": {
            "questions": "{split}-{level}.jsonl",
            "reviews": REVIEWS,
            "items": ITEMS,
        },
    }
    write_manifest(tmp, manifest)
    if out_dir.exists():
        shutil.rmtree(out_dir)  # checked by _check_out_dir: an earlier benchmark, or empty
    tmp.rename(out_dir)
    progress("done", 1, 1)
    return manifest
