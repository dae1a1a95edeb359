"""The columns of `reviews.parquet` and `items.parquet` (see `bench`), defined once.

Why: the builder (from DuckDB) and the release importer (from the authors' JSON) write
the same two files; both write them through `reviews_sink` / `items_sink`, so the
column names, types, nullability, encodings and row groups cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from .stream import ParquetSink

#: user_id, item_id, rating, timestamp (ms): never null
REVIEWS_SCHEMA = pa.schema([
    pa.field("user_id", pa.string(), nullable=False),
    pa.field("item_id", pa.string(), nullable=False),
    pa.field("rating", pa.float64(), nullable=False),
    pa.field("timestamp", pa.int64(), nullable=False),
])
#: item_id (never null) and its metadata (null when the source has none)
ITEMS_SCHEMA = pa.schema([
    pa.field("item_id", pa.string(), nullable=False),
    pa.field("title", pa.string()),
    pa.field("author", pa.string()),
    pa.field("category", pa.string()),
    pa.field("description", pa.string()),
])
# ids and ratings repeat (dictionaries), times grow within a user (deltas): ~7 % smaller
# than DuckDB's own writer made the file, and faster to write
REVIEW_ENCODING: dict[str, Any] = {"use_dictionary": ["user_id", "item_id", "rating"],
                                   "column_encoding": {"timestamp": "DELTA_BINARY_PACKED"}}


def reviews_sink(path: Path) -> ParquetSink:
    """A writer of reviews.parquet: rows in the order the benchmark keeps them (by user,
    then time, then item)."""
    return ParquetSink(path, REVIEWS_SCHEMA, **REVIEW_ENCODING)


def items_sink(path: Path) -> ParquetSink:
    """A writer of items.parquet: rows by item_id."""
    return ParquetSink(path, ITEMS_SCHEMA)
