"""Small DuckDB helpers shared by the readers: the configured connection, quoting, error translation.

Why: readers run plain SQL over the user's files; a DuckDB exception about a bad byte
in line 12,345,678 must reach the user as an InputDataError naming the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

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
        if is_out_of_memory(exc):
            raise  # not the file's fault: the builder names --memory-limit
        raise InputDataError(describe_error(path, str(exc))) from exc


def is_out_of_memory(exc: BaseException) -> bool:
    """DuckDB's out-of-memory error, however it is wrapped (or Python's MemoryError)."""
    return isinstance(exc, (duckdb.OutOfMemoryException, MemoryError)) or "Out of Memory Error" in str(exc)


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


def one_row(con: duckdb.DuckDBPyConnection, query: str) -> tuple[Any, ...]:
    """The row of a query that always returns exactly one (an aggregate). The result is
    read to its end: a connection with an unfinished result refuses the next registration."""
    rows = con.execute(query).fetchall()
    if not rows:  # not for an aggregate; a bug if it happens
        raise RuntimeError(f"internal error: no row from: {' '.join(query.split())[:120]}")
    return rows[0]


class Connection(NamedTuple):
    """What `connect` made: the connection and the memory limit it set on it, in bytes
    (None: DuckDB's default). Callers pass the limit on as a number; nobody reads the
    setting back from DuckDB as text."""

    con: duckdb.DuckDBPyConnection
    memory_limit: int | None


def connect(memory_limit: int | None = None, temp_dir: Path | None = None,
            threads: int | None = None) -> Connection:
    """A connection whose settings are fixed here, once, before its first query.

    Why: DuckDB refuses to move its temporary directory once something spilled
    there, and settings changed between statements are easy to leave changed; so
    no reader or builder SETs anything later. Insertion order is not preserved
    (big loads and sorts need less memory; every query whose order matters says
    ORDER BY), times without an offset are read as UTC, and query progress is
    tracked (for the progress display) but never printed by DuckDB itself.
    `memory_limit` is in bytes; None keeps DuckDB's defaults.
    """
    config: dict[str, str | bool | int | float | list[str]] = {
        "preserve_insertion_order": False,
    }
    limit = int(memory_limit) if memory_limit else None
    if limit:
        config["memory_limit"] = f"{limit}B"
    if temp_dir is not None:
        Path(temp_dir).mkdir(parents=True, exist_ok=True)
        config["temp_directory"] = str(temp_dir)
    if threads:
        config["threads"] = int(threads)
    con = duckdb.connect(config=config)
    # session settings, not connect() options (TimeZone needs ICU loaded first)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    return Connection(con, limit)


def reads_times_as_utc(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the session reads times without an offset as UTC (what `connect` sets)."""
    probes = ("1970-01-01 00:00:00", "2020-01-15 12:00:00", "2020-07-15 12:00:00")
    row = one_row(con, "SELECT " + ", ".join(
        f"epoch_ms(TIMESTAMPTZ {lit(p)}) = epoch_ms(TIMESTAMP {lit(p)})" for p in probes))
    return all(row)
