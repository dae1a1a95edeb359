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
    groups: dict[str, dict[str, list[int]]] = {lv: {} for lv in params.levels}
    if cands.num_rows == 0:
        return groups
    items = cands.column("item_id").to_numpy(zero_copy_only=False)
    ts = cands.column("timestamp").to_pylist()
    rel = cands.column("relative_rating").to_pylist()
    bounds = np.flatnonzero(items[1:] != items[:-1]) + 1
    starts = [0, *bounds.tolist()]
    ends = [*bounds.tolist(), len(items)]
    total = len(starts)
    levels = [(lv, params.group_size[lv], params.min_gap[lv]) for lv in params.levels]
    for k, (s, e) in enumerate(zip(starts, ends, strict=True)):
        item_id = str(items[s])
        item_ts, item_rel = ts[s:e], rel[s:e]
        for lv, n, gap in levels:
            if e - s < n:
                continue
            rows = choose_group(item_ts, item_rel, n, gap, params.window_ms,
                                item_rng(params.seed, item_id, lv), params.max_candidates)
            if rows is not None:
                groups[lv][item_id] = [s + r for r in rows]
        if k % 5000 == 0 or k == total - 1:
            progress("grouping items", k + 1, total)
    return groups


def most_common_ratings(con: duckdb.DuckDBPyConnection, members, user_mean: str) -> dict[int, float]:
    """{member row: most common rating of the user's earlier (or all) reviews}, in SQL.

    Ties go to the rating the user gave first (time, then item id) — what
    `Counter.most_common` on the time-ordered list gives; the release does not say.
    """
    con.register("_members", members)
    cond = 'r."timestamp" < m."timestamp"' if user_mean == "history" else "TRUE"
    rows = con.execute(
        f"""
        WITH seqd AS (
            SELECT user_id, rating, "timestamp",
                   row_number() OVER (PARTITION BY user_id ORDER BY "timestamp", item_id) AS seq
            FROM reviews SEMI JOIN (SELECT DISTINCT user_id FROM _members) u USING (user_id)
        ), h AS (
            SELECT m.row_id, r.rating, count(*) AS c, min(r.seq) AS first_seq
            FROM _members m JOIN seqd r ON r.user_id = m.user_id AND {cond}
            GROUP BY m.row_id, r.rating
        )
        SELECT row_id, rating FROM h
        QUALIFY row_number() OVER (PARTITION BY row_id ORDER BY c DESC, first_seq) = 1
        """
    ).fetchall()
    con.unregister("_members")
    return {int(r): float(v) for r, v in rows}


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

    chosen: dict[tuple[str, str, str], list[int]] = {}
    for split, by_level in splits.items():
        for lv, item_ids in by_level.items():
            for it in item_ids:
                chosen[(split, lv, it)] = groups[lv][it]
    progress("member statistics", 0, 1)
    row_ids = sorted({r for rows in chosen.values() for r in rows})
    picked = cands.take(pa.array(row_ids, type=pa.int64())).append_column(
        "row_id", pa.array(row_ids, type=pa.int64()))
    modes = most_common_ratings(con, picked, params.user_mean)
    col = picked.to_pydict()
    members_by_row = {
        r: Member(
            user_id=u, rating=float(rt), relative_rating=round(float(rel), 6),
            avg_rating=round(float(avg), 6), most_common_rating=modes.get(r, float(rt)),
            history_len=int(hn), timestamp=int(t),
        )
        for r, u, rt, rel, avg, hn, t in zip(
            col["row_id"], col["user_id"], col["rating"], col["relative_rating"],
            col["avg_rating"], col["hist_n"], col["timestamp"], strict=True)
    }
    _temp_ids(con, "q_users", "user_id", sorted({m.user_id for m in members_by_row.values()}))

    counts: dict[str, dict[str, int]] = {}
    query_items: set[str] = set()
    for split, by_level in splits.items():
        counts[split] = {}
        for lv, item_ids in by_level.items():
            qs = []
            for it in item_ids:
                rows = chosen[(split, lv, it)]
                members = [members_by_row[r] for r in rows]
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
