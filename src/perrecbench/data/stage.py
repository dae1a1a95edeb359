"""The checked load every reader shares: rows -> typed columns + a skip reason, in SQL.

Why: the Books file has ~30 M lines, so rows never pass through Python. Each file is
read twice at most:

1. a parallel pass that types every row, gives it a skip reason (or none) and
   appends it to the target table; reasons are then counted per file;
2. only for files with skipped rows, a numbered pass (`_ln`, the line as users count
   it) that stops after the first few bad rows, for the `file:line: reason` examples.

A reader provides, per file, a `Source` (SQL over the file's rows exposing the raw
fields as text) and uses `review_checks` / `item_checks` to type and validate them.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from ..errors import ConfigError, InputDataError
from .duck import ident, input_errors, lit, one_row
from .files import Checksums
from .report import ITEMS, REASONS, FileStats, LoadReport

REVIEW_COLUMNS = {"user_id": "VARCHAR", "item_id": "VARCHAR", "rating": "DOUBLE", "timestamp": "BIGINT"}
ITEM_COLUMNS = {
    "item_id": "VARCHAR", "title": "VARCHAR", "author": "VARCHAR",
    "category": "VARCHAR", "description": "VARCHAR",
}
WS = lit(" \t\r\n")  # what `trim` strips from text fields
# Reviews dated at or after 2100-01-01 are skipped ("future_timestamp"). A fixed
# bound, not the build's clock, so a rebuild keeps the same rows; such times are
# usually milliseconds read as seconds (year ~50,000) or a corrupt field.
TIMESTAMP_MAX_MS = 4_102_444_800_000


@dataclass(frozen=True)
class Source:
    """One input file as SQL: `rows` is a relation over the file's rows, in file order,
    with the columns the reader's checks expect (always `_blank` and `_ok` booleans).

    Row k (1-based) of `rows` is what users see as line `k + ln_offset` (header lines),
    or as row k of a Parquet file.
    """

    path: Path
    rows: str
    unit: str = "line"  # "line" or "row"
    ln_offset: int = 0

    def where(self, ln: int) -> str:
        return f"{self.path}:{ln}" if self.unit == "line" else f"{self.path}:row {ln}"


@dataclass(frozen=True)
class FieldNames:
    """How the raw fields are called in the input, for messages."""

    user: str = "user_id"
    item: str = "item_id"
    rating: str = "rating"
    time: str = "timestamp"


def text(expr: str) -> str:
    """Trimmed text, empty -> NULL."""
    return f"nullif(trim({expr}, {WS}), '')"


def ms_from(expr: str, unit: str) -> str:
    """SQL turning text in `unit` ("s", "ms" or "iso") into BIGINT ms since the epoch (NULL if bad)."""
    if unit == "iso":
        return f"epoch_ms(try_cast({expr} AS TIMESTAMPTZ))"
    scale = " * 1000" if unit == "s" else ""
    return f"try_cast(round(try_cast({expr} AS DOUBLE){scale}) AS BIGINT)"


def review_checks(
    src: str, lo: float, hi: float, time_sql: str, names: FieldNames = FieldNames(),
    malformed: str = "malformed_json",
) -> str:
    """Typed review columns, `_reason` and `_detail` over a relation with text `_u _i _r _t`.

    `time_sql` is an expression over `_t` giving ms (see `ms_from`).
    """
    missing = ", ".join(
        f"CASE WHEN {cond} THEN {lit(name)} END"
        for cond, name in (("user_id IS NULL", names.user), ("item_id IS NULL", names.item),
                           ("_r IS NULL", names.rating), ("_t IS NULL", names.time))
    )
    return f"""
    SELECT *,
      CASE _reason
        WHEN 'blank_line' THEN 'blank line'
        WHEN '{malformed}' THEN {lit(REASONS[malformed])}
        WHEN 'missing_field' THEN 'missing ' || concat_ws(', ', {missing})
        WHEN 'bad_rating' THEN CASE WHEN rating IS NULL
            THEN {lit(names.rating)} || ' ' || left(_r, 40) || ' is not a number'
            ELSE {lit(names.rating)} || ' ' || left(_r, 40) || ' outside {lo:g}..{hi:g}' END
        WHEN 'bad_timestamp' THEN {lit(names.time)} || ' ' || left(_t, 40) || ' is not a valid time'
        WHEN 'future_timestamp' THEN {lit(names.time)} || ' ' || left(_t, 40) || ' is after 2100'
      END AS _detail
    FROM (
      SELECT *,
        CASE WHEN _blank THEN 'blank_line'
             WHEN NOT _ok THEN '{malformed}'
             WHEN user_id IS NULL OR item_id IS NULL OR _r IS NULL OR _t IS NULL THEN 'missing_field'
             WHEN rating IS NULL OR NOT (rating BETWEEN {lo!r} AND {hi!r}) THEN 'bad_rating'
             WHEN "timestamp" IS NULL OR "timestamp" < 0 THEN 'bad_timestamp'
             WHEN "timestamp" >= {TIMESTAMP_MAX_MS} THEN 'future_timestamp'
        END AS _reason
      FROM (
        SELECT *, nullif(_u, '') AS user_id, nullif(_i, '') AS item_id,
               try_cast(_r AS DOUBLE) AS rating, {time_sql} AS "timestamp"
        FROM ({src})))"""


def item_checks(src: str, id_name: str = "item_id", malformed: str = "malformed_json") -> str:
    """Item columns, `_reason` and `_detail` over a relation with text
    `_i _title _author _category _description`; only a missing id skips a row."""
    return f"""
    SELECT *,
      CASE _reason WHEN 'blank_line' THEN 'blank line'
                   WHEN '{malformed}' THEN {lit(REASONS[malformed])}
                   WHEN 'missing_field' THEN {lit('missing ' + id_name)} END AS _detail
    FROM (
      SELECT *,
        CASE WHEN _blank THEN 'blank_line' WHEN NOT _ok THEN '{malformed}'
             WHEN item_id IS NULL THEN 'missing_field' END AS _reason
      FROM (
        SELECT *, nullif(_i, '') AS item_id, {text('_title')} AS title, {text('_author')} AS author,
               {text('_category')} AS category,
               nullif(trim(_description), '') AS description  -- long: plain trim is faster
        FROM ({src})))"""


def stage(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: dict[str, str],
    sources: Sequence[Source],
    checks: Callable[[Source], str],
    report: LoadReport,
    role: str,
    checksums: Checksums,
    max_bad: int = 5,
    keep_file: bool = False,
) -> None:
    """Load all `sources` into `table` (kept rows only), recording per-file stats in `report`.

    `checks(source)` is the SQL typing and validating that file's rows (`review_checks`
    or `item_checks` over `source.rows`). `keep_file` keeps the `_file` column (the
    index of the row's source) for `finish_items`, which counts duplicates per file.

    Raises InputDataError naming a file that yields no usable row.
    """
    cols = ", ".join(f"{ident(c)} {t}" for c, t in columns.items())
    names = ", ".join(ident(c) for c in columns)
    con.execute(f"CREATE OR REPLACE TABLE {table} ({cols}, _file INTEGER, _reason VARCHAR)")
    for i, src in enumerate(sources):
        with input_errors(src.path):
            con.execute(f"INSERT INTO {table} SELECT {names}, {i}, _reason FROM ({checks(src)})")
    per_file: dict[int, dict[str | None, int]] = {}
    for f, reason, n in con.execute(f"SELECT _file, _reason, count(*) FROM {table} GROUP BY ALL").fetchall():
        per_file.setdefault(f, {})[reason] = n
    for i, src in enumerate(sources):
        found = per_file.get(i, {})
        kept = found.pop(None, 0)
        counts = {str(reason): n for reason, n in found.items()}  # the None key (kept) is gone
        stats = FileStats(
            path=str(src.path), role=role, sha256=checksums.get(src.path),
            size_bytes=src.path.stat().st_size, rows_read=kept + sum(counts.values()),
            rows_kept=kept, skipped=dict(sorted(counts.items())),
        )
        # the scan stops at the last bad row wanted: never read further than needed
        examples = first_bad(con, src, checks, min(max_bad, sum(counts.values()))) if counts else []
        report.bad_lines.extend(examples)
        report.add_file(stats)
        if kept == 0:
            con.execute(f"DROP TABLE IF EXISTS {table}")
            raise InputDataError(_no_rows(src, stats, examples, role))
    con.execute(f"DELETE FROM {table} WHERE _reason IS NOT NULL")
    con.execute(f"ALTER TABLE {table} DROP COLUMN _reason")
    if not keep_file:
        con.execute(f"ALTER TABLE {table} DROP COLUMN _file")


def first_bad(
    con: duckdb.DuckDBPyConnection, src: Source, checks: Callable[[Source], str], limit: int
) -> list[str]:
    """'file:line: reason' for the first `limit` skipped rows of one file.

    Lines are numbered with `row_number() OVER ()` *above* the checks: DuckDB runs that
    streaming window in one ordered pipeline, the filter cannot be pushed below it
    (pushed down, it would repeat the JSON parsing once per referenced field), and
    with insertion order kept the LIMIT ends the scan at the last example needed.
    """
    if limit <= 0:
        return []
    with input_errors(src.path):
        rows = con.execute(
            f"SELECT _ln, _detail FROM (SELECT row_number() OVER () + {int(src.ln_offset)} AS _ln, "
            f"_reason, _detail FROM ({checks(src)})) "
            f"WHERE _reason IS NOT NULL LIMIT {int(limit)}"
        ).fetchall()
    return [f"{src.where(ln)}: {detail}" for ln, detail in sorted(rows)]


def _no_rows(src: Source, stats: FileStats, examples: list[str], role: str) -> str:
    what = "item" if role == ITEMS else "review"
    if stats.rows_read == 0:
        return f"{src.path}: no usable {what} rows: the file is empty"
    why = ", ".join(f"{REASONS.get(k, k)} {v:,}" for k, v in stats.skipped.items())
    n = stats.rows_read
    hint = ("; are the times milliseconds read as seconds? (see time_unit)"
            if 2 * stats.skipped.get("future_timestamp", 0) > n else "")
    return (f"{src.path}: no usable {what} rows in {n:,} {src.unit}{'s' if n != 1 else ''} "
            f"({why}); first: {'; '.join(examples[:3])}{hint}")


def empty_items(con: duckdb.DuckDBPyConnection) -> None:
    cols = ", ".join(f"{c} {t}" for c, t in ITEM_COLUMNS.items())
    con.execute(f"CREATE OR REPLACE TABLE raw_items ({cols})")


def finish_items(con: duckdb.DuckDBPyConnection, staged: str, report: LoadReport) -> None:
    """`raw_items` from staged item rows (staged with `keep_file`): one row per item id,
    HTML entities decoded.

    Among duplicate ids the row with a title wins, then the smallest values (then the
    first file), so the choice never depends on file or thread order. The rows that
    lost are skipped rows ("duplicate_item"), counted per file like other bad rows.
    """
    order = "title IS NULL, title, author, category, description, _file"
    with _unescape_function(con) as fn:
        def dec(col: str) -> str:
            return f"CASE WHEN {col} LIKE '%&%;%' THEN {fn}({col}) ELSE {col} END AS {col}"

        con.execute(f"""
            CREATE OR REPLACE TABLE raw_items AS
            SELECT item_id, {dec('title')}, {dec('author')}, category, {dec('description')}
            FROM (SELECT DISTINCT ON (item_id) * FROM {staged} ORDER BY item_id, {order})""")
    n = one_row(con, "SELECT count(*), count(title) FROM raw_items")
    dupes = report.items_kept - n[0]
    if dupes:
        _count_duplicates(con, staged, order, report)
        report.counts["duplicate_item_rows"] = dupes
    con.execute(f"DROP TABLE {staged}")
    report.counts["items"] = n[0]
    report.counts["items_without_title"] = n[0] - n[1]


def _count_duplicates(con: duckdb.DuckDBPyConnection, staged: str, order: str, report: LoadReport) -> None:
    """Move the item rows that lost to another row of the same id from kept to skipped,
    per file (only the duplicated ids are looked at: usually none)."""
    lost = dict(con.execute(f"""
        SELECT _file, count(*) FROM (
          SELECT _file, row_number() OVER (PARTITION BY item_id ORDER BY {order}) AS k
          FROM {staged} SEMI JOIN (SELECT item_id FROM {staged} GROUP BY 1 HAVING count(*) > 1) USING (item_id))
        WHERE k > 1 GROUP BY 1""").fetchall())
    files = [f for f in report.files if f.role == ITEMS]
    for i, n in lost.items():
        stats = files[int(i)]
        stats.rows_kept -= n
        stats.skipped = dict(sorted({**stats.skipped, "duplicate_item": n}.items()))
    total = sum(lost.values())
    report.items_kept -= total
    report.items_skipped = dict(sorted({**report.items_skipped, "duplicate_item": total}.items()))


@contextmanager
def _unescape_function(con: duckdb.DuckDBPyConnection) -> Iterator[str]:
    """A temporary SQL function decoding HTML entities (`&amp;` -> `&`), then trimming."""
    name = "_perrecbench_html_unescape"

    def unescape(s: str) -> str | None:
        return html.unescape(s).strip() or None

    try:
        con.remove_function(name)
    except duckdb.InvalidInputException:  # not registered (the usual case)
        pass
    con.create_function(name, unescape, ["VARCHAR"], "VARCHAR", side_effects=False)
    try:
        yield name
    finally:
        con.remove_function(name)


def reviewed_items_without_meta(con: duckdb.DuckDBPyConnection) -> int:
    return int(one_row(con, "SELECT count(*) FROM (SELECT DISTINCT item_id FROM raw_reviews) r "
                            "ANTI JOIN raw_items m USING (item_id)")[0])



@dataclass(frozen=True)
class LoadOptions:
    """Options every reader takes (the rest of the options dict is the reader's own)."""

    checksum: bool = True  # sha256 of every input file (streamed, in the background)
    max_bad_lines: int = 5  # examples of skipped rows per file

    @classmethod
    def split(
        cls, options: dict[str, Any] | None, own: dict[str, Any]
    ) -> tuple[LoadOptions, dict[str, Any]]:
        """(common options, the reader's options with defaults from `own`); unknown keys fail."""
        options = dict(options or {})
        common = {k: options.pop(k) for k in list(options) if k in cls.__dataclass_fields__}
        unknown = sorted(set(options) - set(own))
        if unknown:
            allowed = sorted(set(own) | set(cls.__dataclass_fields__))
            moved = [k for k in unknown if k in ("memory_limit", "temp_dir")]
            hint = (f" ({', '.join(moved)}: set for the whole build with --memory-limit / --temp-dir)"
                    if moved else "")
            raise ConfigError(f"unknown option(s) {unknown}; this source takes {allowed}{hint}")
        try:
            load = cls(**common)
            if not isinstance(load.max_bad_lines, int) or load.max_bad_lines < 0:
                raise ValueError("max_bad_lines must be a whole number >= 0")
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"bad option: {exc}") from exc
        return load, {**own, **options}


def time_scale_note(con: duckdb.DuckDBPyConnection, report: LoadReport, unit: str) -> None:
    """Warn when kept timestamps look like the wrong unit (seconds read as ms or back)."""
    hi = one_row(con, 'SELECT max("timestamp") FROM raw_reviews')[0]
    if hi is None:
        return
    future = report.skipped.get("future_timestamp", 0)
    if hi < 100_000_000_000 and unit != "s":
        report.notes.append(f"timestamps look like seconds (max {hi}) but were read as {unit}; "
                            "all times fall in 1970 (set time_unit=s)")
    elif future > report.rows_kept:  # (milliseconds read as seconds fall after 2100)
        report.notes.append(f"{future:,} reviews dated after 2100 were skipped: are the times "
                            "milliseconds read as seconds? (set time_unit=ms)")
