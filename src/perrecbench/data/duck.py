"""Small DuckDB helpers shared by the readers: quoting, bulk-load settings, error translation.

Why: readers run plain SQL over the user's files; a DuckDB exception about a bad byte
in line 12,345,678 must reach the user as an InputDataError naming the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from ..errors import InputDataError


def lit(value: str | Path) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def ident(name: str) -> str:
    """A SQL identifier (column names come from users' files)."""
    return '"' + name.replace('"', '""') + '"'


def schema_of(con: duckdb.DuckDBPyConnection, relation: str, path: Path) -> dict[str, str]:
    """Column name -> DuckDB type of a relation (a table function call over one file)."""
    with input_errors(path):
        rows = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    return {r[0]: r[1] for r in rows}


def columns_of(con: duckdb.DuckDBPyConnection, relation: str, path: Path) -> list[str]:
    return list(schema_of(con, relation, path))


@contextmanager
def input_errors(path: Path) -> Iterator[None]:
    """Turn DuckDB's errors about a file's content into InputDataError naming the file (and line)."""
    try:
        yield
    except (duckdb.InvalidInputException, duckdb.IOException, duckdb.ConversionException) as exc:
        raise InputDataError(describe_error(path, str(exc))) from exc


def describe_error(path: Path, message: str) -> str:
    """`file[:line]: what`, in the user's terms rather than the CSV reader's."""
    msg = " ".join(message.split())
    line = re.search(r"CSV Error on Line: (\d+)", msg)
    where = f"{path}:{line.group(1)}" if line else str(path)
    cols = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", msg)
    if "Invalid unicode" in msg:
        what = "not valid UTF-8 text (is the file in another encoding?)"
    elif cols:
        what = f"expected {cols.group(1)} fields, found {cols.group(2)}"
    elif "Maximum line size" in msg:
        what = "line too long (over the reader's maximum line size)"
    else:
        what = msg if len(msg) <= 400 else msg[:400] + " ..."
    return f"{where}: cannot read: {what}"


@contextmanager
def bulk_load(
    con: duckdb.DuckDBPyConnection, memory_limit: str | None = None, temp_dir: str | None = None
) -> Iterator[None]:
    """Settings for a big load: no insertion-order bookkeeping, optional memory cap and spill dir.

    Times without an offset are read as UTC. The caller's values come back afterwards,
    except `temp_directory`, which DuckDB may still be using for spilled table data.
    """
    old = con.execute(
        "SELECT current_setting('preserve_insertion_order'), current_setting('memory_limit'),"
        " current_setting('TimeZone')"
    ).fetchone()
    try:
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET TimeZone = 'UTC'")
        if memory_limit:
            con.execute(f"SET memory_limit = {lit(memory_limit)}")
        if temp_dir:
            Path(temp_dir).mkdir(parents=True, exist_ok=True)
            con.execute(f"SET temp_directory = {lit(temp_dir)}")
        yield
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if old[0] else 'false'}")
        con.execute(f"SET TimeZone = {lit(old[2])}")
        if memory_limit:
            con.execute(f"SET memory_limit = {lit(old[1])}")
