"""One entry point for every source: `load_source(con, source, inputs, meta, options)`.

Why: the build command (and tests) should not know how each format is read. A source
is a function `(con, inputs, meta, options) -> LoadReport` that creates `raw_reviews`
and `raw_items` in the DuckDB connection (contract in docs/architecture.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .report import LoadReport

if TYPE_CHECKING:
    import duckdb

Loader = Callable[["duckdb.DuckDBPyConnection", list[Path], "list[Path] | None", dict[str, Any]], LoadReport]


def _lazy(module: str, name: str) -> Loader:
    """The loader `name` of `module`, imported on first use: the command line lists the
    sources (`build --help`) without importing DuckDB and every reader."""
    def load(con: duckdb.DuckDBPyConnection, inputs: list[Path], meta: list[Path] | None,
             options: dict[str, Any]) -> LoadReport:
        loader: Loader = getattr(importlib.import_module(f".{module}", __package__), name)
        return loader(con, inputs, meta, options)

    return load


def _synthetic(con: duckdb.DuckDBPyConnection, inputs: list[Path], meta: list[Path] | None,
               options: dict[str, Any]) -> LoadReport:
    from .synthetic import load_synthetic  # numpy-heavy generator: import only when used

    return load_synthetic(con, options)


# Source name -> loader, in the order `build --help` lists them. To add a source, add one
# line here: `"name": _lazy("module", "load_name")`, its loader `(con, inputs, meta, options)`.
SOURCES: dict[str, Loader] = {
    "synthetic": _synthetic,
    "amazon2023": _lazy("amazon", "load_amazon"),
    "movielens": _lazy("movielens", "load_movielens"),
    "table": _lazy("table", "load_table"),
}


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
