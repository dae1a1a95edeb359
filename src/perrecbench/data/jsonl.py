"""JSON-lines files (plain, .gz, .zst) and Parquet files as SQL relations of JSON text.

Why: DuckDB's `read_json` drops or nulls malformed lines without saying where they
were. Reading each line as one text column (CSV reader, delimiter chr(1), no quoting;
a raw chr(1) is invalid in JSON text, and such a line still comes out, cut, and is
flagged) keeps every line, lets the JSON extraction flag the bad ones, and gives line
numbers with `row_number() OVER ()` (see `stage.first_bad`). Each line is parsed
once: on the 5 M-line benchmark file (1.1 GB, 2 shared cores) splitting the lines
takes 2.9 CPU-s, splitting and extracting the review fields 8.2 (10.4 with a separate
`json_valid` pass); a bare `read_json` is cheaper but cannot say which lines it skipped.

Parquet rows become JSON objects of the needed columns (`to_json`), so the same
field extraction and checks apply; their "line" is the 1-based row number.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from .duck import columns_of, ident, lit
from .files import data_format

MAX_LINE_BYTES = 16_000_000  # a longer line is reported as an error with its number
SPACE = lit(" \t\r")


def _read_lines(path: Path) -> str:
    return (
        f"read_csv({lit(path)}, columns={{'line': 'VARCHAR'}}, header=false, delim=chr(1), "
        f"quote='', escape='', auto_detect=false, strict_mode=false, compression='auto', "
        f"max_line_size={MAX_LINE_BYTES}, buffer_size={2 * MAX_LINE_BYTES})"
    )


def json_line_rows(con: duckdb.DuckDBPyConnection, path: Path, keys: list[str]) -> tuple[str, str]:
    """(relation, unit): the file's lines in order as `line` (JSON text) and `_blank`.

    Whether a line is valid JSON is left to the reader's extraction: `try(json_extract...)`
    is NULL exactly for a line yyjson cannot parse, so each line is parsed once (a
    separate `json_valid` was a second full parse, ~20 % of the load's CPU).

    `keys` are the top-level fields a reader needs; Parquet files contribute only
    those (missing ones are simply absent from the JSON), and their unit is "row".
    """
    if data_format(path) == "parquet":
        have = set(columns_of(con, f"read_parquet({lit(path)})", path))
        wanted = [k for k in keys if k in have]
        obj = ("to_json(struct_pack(" + ", ".join(f"{ident(k)} := {ident(k)}" for k in wanted) + "))"
               if wanted else "'{}'")
        rows, unit = f"SELECT {obj} AS line FROM read_parquet({lit(path)})", "row"
    else:
        rows, unit = f"SELECT line FROM {_read_lines(path)}", "line"
    # trim() walks the whole string; only short lines can be blank
    blank = (f"CASE WHEN line IS NULL THEN true WHEN strlen(line) > 64 THEN false "
             f"ELSE trim(line, {SPACE}) = '' END")
    return f"SELECT *, {blank} AS _blank FROM ({rows})", unit


def parsed(expr: str) -> str:
    """`expr` (a json_extract over `line`) on lines that are not blank; NULL for a line
    that is not valid JSON (the reader's `_ok` is `IS NOT NULL` of it)."""
    return f"CASE WHEN NOT _blank THEN try({expr}) END"
