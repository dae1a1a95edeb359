"""The DuckDB half of the build: dedupe, leak-free user statistics, candidate raters.

Everything row-wise happens in SQL so that the 20 GB Amazon Books file builds with
bounded memory (DuckDB spills to disk); Python only sees candidate raters of items.
"""

from __future__ import annotations

import duckdb

from .params import BuildParams


def configure(con: duckdb.DuckDBPyConnection, memory_limit: str | None, temp_dir: str | None) -> None:
    """Bound memory and let big sorts and windows spill to disk."""
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    if temp_dir:
        con.execute(f"SET temp_directory = '{temp_dir}'")
    con.execute("SET preserve_insertion_order = false")


def dedupe(con: duckdb.DuckDBPyConnection) -> int:
    """Keep one review per (user, item): the earliest (then the lowest rating, for determinism)."""
    con.execute(
        """
        CREATE OR REPLACE TABLE reviews AS
        SELECT user_id, item_id, rating, "timestamp"
        FROM raw_reviews
        WHERE user_id IS NOT NULL AND item_id IS NOT NULL
          AND rating IS NOT NULL AND "timestamp" IS NOT NULL
        QUALIFY row_number() OVER (
            PARTITION BY user_id, item_id ORDER BY "timestamp", rating) = 1
        """
    )
    return con.execute("SELECT count(*) FROM reviews").fetchone()[0]


def user_stats(con: duckdb.DuckDBPyConnection, params: BuildParams) -> None:
    """Per review: how many of the user's reviews came strictly earlier, and the user average.

    The RANGE frame `... AND 1 PRECEDING` on integer milliseconds means "strictly
    earlier": reviews at the very same timestamp are neither history nor future.
    """
    if params.user_mean == "history":
        avg = "hist_sum / nullif(hist_n, 0)"
    else:  # the release's definition: every stored review of the user, later ones too
        avg = "avg(rating) OVER (PARTITION BY user_id)"
    con.execute(
        f"""
        CREATE OR REPLACE TABLE review_stats AS
        SELECT *, {avg} AS avg_rating
        FROM (
            SELECT user_id, item_id, rating, "timestamp",
                   count(*) OVER w AS hist_n,
                   sum(rating) OVER w AS hist_sum
            FROM reviews
            WINDOW w AS (PARTITION BY user_id ORDER BY "timestamp"
                         RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
        )
        """
    )
    con.execute("DROP TABLE reviews")  # review_stats has every column: halve what sorts must share


def context(con: duckdb.DuckDBPyConnection) -> None:
    """`_context`: the reviews of question users and query items, in the order they are written.

    Sorted with all threads into a table, so the single-threaded COPY (byte-identical
    Parquet) only encodes; a member's history is then a contiguous run of rows.
    """
    con.execute("SET preserve_insertion_order = true")
    con.execute(
        """
        CREATE OR REPLACE TABLE _context AS
        SELECT user_id, item_id, rating, "timestamp" FROM review_stats
        WHERE user_id IN (SELECT user_id FROM q_users) OR item_id IN (SELECT item_id FROM q_items)
        ORDER BY user_id, "timestamp", item_id
        """
    )


def candidates(con: duckdb.DuckDBPyConnection, params: BuildParams, min_group: int):
    """Eligible raters of items with at least `min_group` of them, sorted by item then time."""
    return con.sql(
        f"""
        WITH eligible AS (
            SELECT item_id, user_id, "timestamp", rating, avg_rating, hist_n,
                   rating - avg_rating AS relative_rating
            FROM review_stats
            WHERE hist_n >= {int(params.min_history)} AND avg_rating IS NOT NULL
        ), busy AS (
            SELECT item_id FROM eligible GROUP BY item_id HAVING count(*) >= {int(min_group)}
        )
        SELECT e.* FROM eligible e SEMI JOIN busy b ON e.item_id = b.item_id
        ORDER BY e.item_id, e."timestamp", e.user_id
        """
    ).to_arrow_table()
