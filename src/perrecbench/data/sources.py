"""One entry point for every source: `load_source(con, source, inputs, meta, options)`.

Why: the build command (and tests) should not know how each format is read. A source
is a function `(con, inputs, meta, options) -> LoadReport` that creates `raw_reviews`
and `raw_items` in the DuckDB connection (contract in docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from ..errors import ConfigError
from .amazon import load_amazon
from .movielens import load_movielens
from .report import LoadReport
from .table import load_table

Loader = Callable[[duckdb.DuckDBPyConnection, list[Path], "list[Path] | None", dict[str, Any]], LoadReport]

# Source name -> loader. To add a source, add one line here, e.g.
#   "synthetic": lambda con, inputs, meta, options: load_synthetic(con, options),
SOURCES: dict[str, Loader] = {
    "amazon2023": load_amazon,
    "movielens": load_movielens,
    "table": load_table,
    "synthetic": lambda con, inputs, meta, options: _synthetic(con, options),
}


def _synthetic(con: duckdb.DuckDBPyConnection, options: dict[str, Any]) -> LoadReport:
    from .synthetic import load_synthetic  # numpy-heavy generator: import only when used

    return load_synthetic(con, options)


def load_source(
    con: duckdb.DuckDBPyConnection,
    source: str,
    inputs: list[Path],
    meta: list[Path] | None = None,
    options: dict[str, Any] | None = None,
) -> LoadReport:
    """Fill `raw_reviews` / `raw_items` in `con` from `source`; returns what was read and skipped."""
    loader = SOURCES.get(source)
    if loader is None:
        raise ConfigError(f"unknown source {source!r}; choose from {', '.join(sorted(SOURCES))}")
    return loader(con, [Path(p) for p in inputs], [Path(m) for m in meta] if meta else None,
                  dict(options or {}))
