"""Generic review tables: CSV/TSV (plain or .gz) or Parquet with configurable column names.

Why: users bring their own ratings (`user,item,rating,time`) plus an optional item
table. Every value is read as text and typed by the shared checks, so a rating "abc"
or 7 is a counted, located skip, not a crash; a row with the wrong number of fields
stops the load with DuckDB's line number (it means the file's layout is not what the
options say). Line numbers count physical lines, assuming no line breaks inside
quoted fields.
"""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from ..errors import ConfigError, InputDataError
from .duck import ident, lit, reads_times_as_utc, schema_of
from .encoding import readable
from .files import Checksums, data_format, require_files
from .report import ITEMS, REVIEWS, LoadReport
from .stage import (
    ITEM_COLUMNS,
    REVIEW_COLUMNS,
    FieldNames,
    LoadOptions,
    Source,
    empty_items,
    finish_items,
    item_checks,
    ms_from,
    review_checks,
    reviewed_items_without_meta,
    stage,
    time_scale_note,
)

TIME_UNITS = ("s", "ms", "iso")
OPTIONS: dict[str, Any] = {
    "user_col": "user_id", "item_col": "item_id", "rating_col": "rating",
    "time_col": "timestamp", "time_unit": "s",  # "s", "ms" or "iso" (ISO 8601 text)
    "rating_min": 1.0, "rating_max": 5.0,
    "delimiter": None,  # None: tab for .tsv, else guessed from the header line
    "header": True, "columns": None,  # column names when there is no header line
    "encoding": "utf-8",
    # item table (--meta): its id column defaults to item_col
    "item_id_col": None, "title_col": "title", "author_col": "author",
    "category_col": "category", "description_col": "description",
}
STAGED_ITEMS = "_perrecbench_items"
MAX_HEADER_CHARS = 1_000_000  # a header line longer than this is not a header
HEADER_BLOCK = 1 << 16


@dataclass(frozen=True)
class Layout:
    """How a delimited file is written (Parquet ignores it)."""

    delimiter: str | None = None
    header: bool = True
    names: tuple[str, ...] | None = None
    encoding: str = "utf-8"
    quote: str = '"'


@dataclass(frozen=True)
class Table:
    """One file opened for SQL: a table-function call, its columns, and line numbering."""

    path: Path
    call: str
    schema: dict[str, str]
    unit: str = "line"
    ln_offset: int = 0

    def col(self, name: str | None, option: str, required: bool = True) -> str:
        """The column as text; InputDataError (or NULL when optional) if the file lacks it."""
        if name and name in self.schema:
            return f"CAST({ident(name)} AS VARCHAR)"
        if not required:
            return "NULL::VARCHAR"
        raise InputDataError(
            f"{self.path}: no column {name!r} (columns: {', '.join(self.schema)}); "
            f"set the {option} option to the right name"
        )

    def source(self, select: dict[str, str]) -> Source:
        cols = ", ".join(f"{expr} AS {alias}" for alias, expr in select.items())
        rows = f"SELECT false AS _blank, true AS _ok, {cols} FROM {self.call}"
        return Source(self.path, rows, self.unit, self.ln_offset)


def open_table(con: duckdb.DuckDBPyConnection, path: Path, layout: Layout = Layout()) -> Table:
    """Parquet as is; delimited text with every column as VARCHAR and strict parsing."""
    if data_format(path) == "parquet":
        call = f"read_parquet({lit(path)})"
        return Table(path, call, schema_of(con, call, path), unit="row")
    delim = layout.delimiter
    source, encoding = readable(path, layout.encoding)
    if layout.header:
        first = _first_line(source, encoding, path)
        delim = delim or ("\t" if data_format(path) == "tsv" else _guess_delimiter(first))
        names = next(csv.reader([first], delimiter=delim, quotechar=layout.quote or '"'))
        names = [n.strip() for n in names]
    else:
        if not layout.names:
            raise ConfigError(f"{path}: header=false needs the column names (option columns)")
        names = list(layout.names)
        delim = delim or ("\t" if data_format(path) == "tsv" else ",")
    if len(set(names)) != len(names) or not all(names):
        raise InputDataError(f"{path}: empty or repeated column names in the header: {names}")
    cols = "{" + ", ".join(f"{lit(n)}: 'VARCHAR'" for n in names) + "}"
    quote = lit(layout.quote)
    call = (f"read_csv({lit(source)}, columns={cols}, header={'true' if layout.header else 'false'}, "
            f"delim={lit(delim)}, quote={quote}, escape={quote}, auto_detect=false, "
            f"encoding={lit(encoding)}, compression='auto')")
    return Table(path, call, {n: "VARCHAR" for n in names}, "line", 1 if layout.header else 0)


def _first_line(source: Path, encoding: str, path: Path) -> str:
    """The header line of `path` (read from `source`, its readable form), read in Python.

    Why not a `LIMIT 1` query: the connection does not preserve insertion order, so
    DuckDB's parallel CSV scan may hand any line to the LIMIT first (a data row, when a
    long line splits the file into several buffers). Only the first line is read here,
    through pyarrow's stream (plain, .gz or .zst, as DuckDB's `compression='auto'`).
    """
    import pyarrow as pa

    try:
        name = codecs.lookup(encoding).name.upper()
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")  # only the header's bytes count
    except LookupError as exc:
        raise ConfigError(f"{path}: unknown encoding {encoding!r}") from exc
    text = ""
    try:
        with pa.input_stream(str(source), compression="detect") as fh:
            while "\n" not in text and "\r" not in text and len(text) <= MAX_HEADER_CHARS:
                block = fh.read(HEADER_BLOCK)
                text += decoder.decode(block, final=not block)
                if not block:
                    break
    except (OSError, EOFError, pa.ArrowException) as exc:
        raise InputDataError(f"{path}: cannot read ({exc})") from exc
    line = text.split("\n", 1)[0].split("\r", 1)[0]  # \r\n, \n or a lone \r ends it
    if len(line) > MAX_HEADER_CHARS:
        raise InputDataError(f"{path}:1: the header line is longer than {MAX_HEADER_CHARS:,} characters")
    if "\ufffd" in line:
        raise InputDataError(f"{path}:1: cannot read: not valid {name} text (is the file in another encoding?)")
    line = line.lstrip("\ufeff")
    if not line.strip():
        raise InputDataError(f"{path}: the file is empty (expected a header line)")
    return line


def _guess_delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def review_select(t: Table, user: str, item: str, rating: str, time: str) -> dict[str, str]:
    return {"_u": t.col(user, "user_col"), "_i": t.col(item, "item_col"),
            "_r": t.col(rating, "rating_col"), "_t": t.col(time, "time_col")}


def stage_reviews(
    con: duckdb.DuckDBPyConnection, tables: list[Table], select: list[dict[str, str]],
    time_units: list[str], rating_range: tuple[float, float], names: FieldNames,
    report: LoadReport, sums: Checksums, max_bad: int,
) -> None:
    """raw_reviews from opened tables; `select[i]` maps `_u _i _r _t` to SQL over table i."""
    lo, hi = rating_range
    sources = [t.source(sel) for t, sel in zip(tables, select, strict=True)]
    units = {s.path: u for s, u in zip(sources, time_units, strict=True)}

    def checks(src: Source) -> str:
        return review_checks(src.rows, lo, hi, ms_from("_t", units[src.path]), names,
                             malformed="malformed_row")

    stage(con, "raw_reviews", REVIEW_COLUMNS, sources, checks, report, REVIEWS, sums, max_bad)


def stage_items(
    con: duckdb.DuckDBPyConnection, tables: list[Table], select: list[dict[str, str]],
    id_name: str, report: LoadReport, sums: Checksums, max_bad: int,
) -> None:
    """raw_items from opened tables; `select[i]` maps `_i _title _author _category _description`."""
    sources = [t.source(sel) for t, sel in zip(tables, select, strict=True)]
    stage(con, STAGED_ITEMS, ITEM_COLUMNS, sources,
          lambda src: item_checks(src.rows, id_name, malformed="malformed_row"),
          report, ITEMS, sums, max_bad, keep_file=True)
    finish_items(con, STAGED_ITEMS, report)
    missing = reviewed_items_without_meta(con)
    report.counts["reviewed_items_without_meta"] = missing
    if missing:
        report.notes.append(f"{missing:,} reviewed items have no row in the item table")


def _time_unit(t: Table, col: str, unit: str) -> str:
    """Typed time columns (Parquet TIMESTAMP/DATE) are read as such, whatever `time_unit` says."""
    kind = t.schema.get(col, "").upper()
    return "iso" if kind.startswith(("TIMESTAMP", "DATE")) else unit


def load_table(
    con: duckdb.DuckDBPyConnection,
    inputs: list[Path],
    meta: list[Path] | None = None,
    options: dict[str, Any] | None = None,
) -> LoadReport:
    """Create raw_reviews (and raw_items from `meta`) from CSV/TSV/Parquet tables."""
    load, o = LoadOptions.split(options, OPTIONS)
    if o["time_unit"] not in TIME_UNITS:
        raise ConfigError(f"time_unit must be one of {TIME_UNITS}, got {o['time_unit']!r}")
    try:
        lo, hi = float(o["rating_min"]), float(o["rating_max"])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"rating_min/rating_max must be numbers: {exc}") from exc
    if lo > hi:
        raise ConfigError(f"rating_min {lo} is above rating_max {hi}")
    files = require_files(inputs, "review")
    metas = require_files(meta or [], "item")
    if not files:
        raise InputDataError("no review table given")
    layout = Layout(
        delimiter=o["delimiter"], header=bool(o["header"]),
        names=tuple(o["columns"]) if o["columns"] else None, encoding=str(o["encoding"]),
    )
    report = LoadReport(source="table", options={k: v for k, v in o.items() if v is not None})
    names = FieldNames(o["user_col"], o["item_col"], o["rating_col"], o["time_col"])
    with Checksums(files + metas, load.checksum) as sums:
        tables = [open_table(con, f, layout) for f in files]
        select = [review_select(t, o["user_col"], o["item_col"], o["rating_col"], o["time_col"])
                  for t in tables]
        units = [_time_unit(t, o["time_col"], o["time_unit"]) for t in tables]
        if "iso" in units and not reads_times_as_utc(con):
            raise ConfigError("this DuckDB connection reads times without an offset in a local time zone; "
                              "use perrecbench.data.duck.connect() (or SET TimeZone = 'UTC' first)")
        stage_reviews(con, tables, select, units, (lo, hi), names, report, sums, load.max_bad_lines)
        time_scale_note(con, report, o["time_unit"])
        if metas:
            item_col = o["item_id_col"] or o["item_col"]
            itables = [open_table(con, f, layout) for f in metas]
            iselect = [{
                "_i": t.col(item_col, "item_id_col"),
                "_title": t.col(o["title_col"], "title_col", required=False),
                "_author": t.col(o["author_col"], "author_col", required=False),
                "_category": t.col(o["category_col"], "category_col", required=False),
                "_description": t.col(o["description_col"], "description_col", required=False),
            } for t in itables]
            stage_items(con, itables, iselect, item_col, report, sums, load.max_bad_lines)
        else:
            empty_items(con)
            report.notes.append("no item table given: items will have no titles")
    return report
