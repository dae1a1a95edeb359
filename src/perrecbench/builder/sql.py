"""The DuckDB half of the build: dedupe, leak-free user statistics, candidate raters.

Everything row-wise happens in SQL so that the 20 GB Amazon Books file builds with
bounded memory (DuckDB spills to disk); Python only sees candidate raters of items,
streamed in sorted chunks. No statement here changes a setting: the connection was
configured once by whoever made it (`data.duck.connect`), and every result whose
order matters says ORDER BY (insertion order is not preserved).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb

from ..data.duck import one_row
from .params import BuildParams

BYTES_PER_SORTED_ROW = 150  # DuckDB memory one row takes in our sorts and windows (measured)
MIN_ROWS_PER_SORT = 250_000


def scalar(con: duckdb.DuckDBPyConnection, query: str) -> Any:
    """The one value a query returns (see `data.duck.one_row`)."""
    return one_row(con, query)[0]


def encode(con: duckdb.DuckDBPyConnection) -> int:
    """`coded(u, i, rating, timestamp)`: the raw reviews with users and items as integer
    codes; returns their number. `raw_reviews` is dropped: the builder consumes it.

    Why codes: every later sort and window then moves 24-byte rows of integers, not
    strings (a Books user id is 28 characters), so far less spills at a given memory
    limit. The codes follow the ids' own order (`_users`, `_items`), so ordering by
    code is ordering by id, and a range of codes is a range of ids.
    """
    for table, col, code in (("_users", "user_id", "u"), ("_items", "item_id", "i")):
        con.execute(
            f"""CREATE OR REPLACE TABLE {table} AS
                SELECT {col}, (row_number() OVER (ORDER BY {col}))::INTEGER AS {code}
                FROM (SELECT DISTINCT {col} FROM raw_reviews WHERE {col} IS NOT NULL)"""
        )
    con.execute(
        """
        CREATE OR REPLACE TABLE coded AS
        SELECT u.u, i.i, r.rating, r."timestamp"
        FROM raw_reviews r JOIN _users u USING (user_id) JOIN _items i USING (item_id)
        WHERE r.rating IS NOT NULL AND r."timestamp" IS NOT NULL
        """
    )
    con.execute("DROP TABLE raw_reviews")
    return scalar(con, "SELECT count(*) FROM coded")


def rows_per_sort(memory_limit: int | None) -> int | None:
    """Rows one sort or window may take so that it runs in DuckDB's memory, not on disk,
    for the limit `data.duck.connect` set (bytes); None (DuckDB's default limit, which
    is most of the machine's memory): sorts are not cut."""
    if memory_limit is None:
        return None
    return max(MIN_ROWS_PER_SORT, memory_limit // BYTES_PER_SORTED_ROW)


def code_ranges(con: duckdb.DuckDBPyConnection, table: str, code: str,
                max_rows: int | None) -> list[tuple[int, int]]:
    """Consecutive (first, last) ranges of `code` in `table`, about `max_rows` rows each
    (one code's rows are never split), in code order; None: one range for all.

    Why: a sort or window over rows that outgrow DuckDB's memory spills, and its cost
    per row grows with the input. Cut by code range, each part sorts in memory; the
    parts, in order, are the whole result in order when the code leads the ORDER BY
    (or is the window's PARTITION BY). So cost grows with the input, not faster.
    """
    per = int(max_rows) if max_rows else 1 << 62
    rows = con.execute(
        f"""WITH c AS (SELECT {code} AS k, count(*) AS n FROM {table} GROUP BY 1),
            s AS (SELECT k, n, sum(n) OVER (ORDER BY k ROWS UNBOUNDED PRECEDING) - n AS before FROM c)
            SELECT min(k), max(k) FROM s GROUP BY (before // {per})::BIGINT ORDER BY 1"""
    ).fetchall()
    return [(int(lo), int(hi)) for lo, hi in rows] or [(0, 0)]


def review_stats(con: duckdb.DuckDBPyConnection, params: BuildParams, ranges: list[tuple[int, int]],
                 done: Callable[[int], None] = lambda k: None) -> int:
    """`review_stats(u, i, rating, timestamp, hist_n, avg_rating)`: one review per (user,
    item), the earliest (then the lowest rating, for determinism), with how many of the
    user's reviews came strictly earlier and the user average; returns its row count.

    The RANGE frame `... AND 1 PRECEDING` on integer milliseconds means "strictly
    earlier": reviews at the very same timestamp are neither history nor future. Both
    windows are per user, so they run one range of users at a time (`code_ranges`).
    """
    if params.user_mean == "history":
        avg = "hist_sum / nullif(hist_n, 0)"
    else:  # the release's definition: every stored review of the user, later ones too
        avg = "avg(rating) OVER (PARTITION BY u)"
    con.execute("""CREATE OR REPLACE TABLE review_stats (u INTEGER, i INTEGER, rating DOUBLE,
                   "timestamp" BIGINT, hist_n BIGINT, avg_rating DOUBLE)""")
    for k, (lo, hi) in enumerate(ranges):
        con.execute(
            f"""
            INSERT INTO review_stats
            WITH first AS (
                SELECT u, i, rating, "timestamp" FROM coded WHERE u BETWEEN {lo} AND {hi}
                QUALIFY row_number() OVER (PARTITION BY u, i ORDER BY "timestamp", rating) = 1
            )
            SELECT u, i, rating, "timestamp", hist_n, {avg} AS avg_rating
            FROM (
                SELECT u, i, rating, "timestamp", count(*) OVER w AS hist_n, sum(rating) OVER w AS hist_sum
                FROM first
                WINDOW w AS (PARTITION BY u ORDER BY "timestamp"
                             RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
            )
            """
        )
        done(k + 1)
    con.execute("DROP TABLE coded")
    return scalar(con, "SELECT count(*) FROM review_stats")


# what the candidate stream carries, in the order of the `members` table's last columns
CANDIDATE_COLUMNS = ("item_id", "user_id", "timestamp", "rating", "avg_rating", "hist_n", "relative_rating", "u")


def create_candidates(con: duckdb.DuckDBPyConnection, params: BuildParams, min_group: int) -> int:
    """`candidates`: eligible raters of items with at least `min_group` of them (unsorted);
    returns their number."""
    con.execute(
        f"""
        CREATE OR REPLACE TABLE candidates AS
        WITH eligible AS (
            SELECT i, u, "timestamp", rating, avg_rating, hist_n,
                   rating - avg_rating AS relative_rating
            FROM review_stats
            WHERE hist_n >= {int(params.min_history)} AND avg_rating IS NOT NULL
        ), busy AS (
            SELECT i FROM eligible GROUP BY i HAVING count(*) >= {int(min_group)}
        )
        SELECT e.* FROM eligible e SEMI JOIN busy b ON e.i = b.i
        """
    )
    return scalar(con, "SELECT count(*) FROM candidates")


def sorted_candidates(lo: int, hi: int) -> str:
    """Candidates of items `lo`..`hi` by item then time (then user: one review per user and
    item, so a total order)."""
    return f"""
        SELECT it.item_id, us.user_id, c."timestamp", c.rating, c.avg_rating, c.hist_n,
               c.relative_rating, c.u
        FROM candidates c JOIN _items it USING (i) JOIN _users us USING (u)
        WHERE c.i BETWEEN {lo} AND {hi}
        ORDER BY c.i, c."timestamp", c.u"""


def create_members(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """CREATE OR REPLACE TABLE members (member_id BIGINT, level VARCHAR, pos INTEGER,
           item_id VARCHAR, user_id VARCHAR, "timestamp" BIGINT, rating DOUBLE, avg_rating DOUBLE,
           hist_n BIGINT, relative_rating DOUBLE, u INTEGER)"""
    )


def pick_members(con: duckdb.DuckDBPyConnection, picks) -> None:
    """`q_members`: members of the groups that became questions, with their split.

    `picks` is an Arrow table (split, level, item_id). `candidates` and `members` go.
    """
    con.register("_picks", picks)
    con.execute("CREATE OR REPLACE TABLE picks AS SELECT * FROM _picks")
    con.unregister("_picks")
    con.execute(
        "CREATE OR REPLACE TABLE q_members AS SELECT m.*, p.split FROM members m JOIN picks p USING (level, item_id)"
    )
    con.execute("DROP TABLE members")
    con.execute("DROP TABLE candidates")


def context(con: duckdb.DuckDBPyConnection) -> int:
    """`ctx`: the reviews of question users and query items (unsorted); returns their number.

    The members' users bring their whole history (what a model may read about them),
    the query items every rating they got. `review_stats` is dropped afterwards.
    """
    con.execute(
        """
        CREATE OR REPLACE TABLE ctx AS
        SELECT u, i, rating, "timestamp" FROM review_stats
        WHERE u IN (SELECT DISTINCT u FROM q_members)
           OR i IN (SELECT i FROM _items SEMI JOIN picks USING (item_id))
        """
    )
    con.execute("DROP TABLE review_stats")
    return scalar(con, "SELECT count(*) FROM ctx")


def sorted_context(lo: int, hi: int) -> str:
    """The context of users `lo`..`hi` in the order reviews.parquet holds it: a user's
    reviews are one run, oldest first (so a member's history is the first `hist_n` rows
    of its user's run)."""
    return f"""
        SELECT us.user_id, it.item_id, c.rating, c."timestamp"
        FROM ctx c JOIN _users us USING (u) JOIN _items it USING (i)
        WHERE c.u BETWEEN {lo} AND {hi}
        ORDER BY c.u, c."timestamp", c.i"""


def member_runs(user_mean: str) -> str:
    """Per member: where its user's run starts in `sorted_context`, the run's length `n`,
    and `k`, how many of its first rows the member's most common rating is taken over."""
    k = "m.hist_n" if user_mean == "history" else "r.n"
    return f"""
        WITH per_user AS (SELECT u, count(*) AS n FROM ctx GROUP BY u),
        runs AS (
            SELECT u, n, (sum(n) OVER (ORDER BY u ROWS UNBOUNDED PRECEDING) - n)::BIGINT AS start
            FROM per_user
        )
        SELECT m.member_id, r.start, r.n, {k} AS k
        FROM q_members m JOIN runs r USING (u)
        ORDER BY r.start, m.member_id"""


def sorted_questions() -> str:
    """The questions files' members, file by file, by item then place in the group,
    with their most common rating."""
    return """
        SELECT m.split, m.level, m.item_id, m.user_id, m.rating, m.relative_rating, m.avg_rating,
               coalesce(md.mode, m.rating) AS mode, m.hist_n, m."timestamp"
        FROM q_members m LEFT JOIN modes md USING (member_id)
        ORDER BY m.split, m.level, m.item_id, m.pos"""


def sorted_items() -> str:
    """items.parquet: every item of the context, its metadata when there is some."""
    return """
        WITH used AS (SELECT item_id FROM _items SEMI JOIN (SELECT DISTINCT i FROM ctx) c USING (i)),
        meta AS (
            SELECT item_id, any_value(title ORDER BY title) AS title,
                   any_value(author ORDER BY author) AS author,
                   any_value(category ORDER BY category) AS category,
                   any_value(description ORDER BY description) AS description
            FROM raw_items SEMI JOIN used USING (item_id) GROUP BY item_id)
        SELECT u.item_id, m.title, m.author, m.category, m.description
        FROM used u LEFT JOIN meta m ON u.item_id = m.item_id
        ORDER BY u.item_id"""
