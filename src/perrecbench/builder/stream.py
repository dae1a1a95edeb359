"""Sorted DuckDB results as a stream of Arrow chunks, and a Parquet writer fed by one.

Why: at Books scale no stage may hold all candidate raters or all context reviews
in Python. A query's result is read batch by batch (`sorted_batches`), cut into
chunks that never split a key's run (`whole_runs`: one item's raters, one item's
questions), and written to Parquet with row groups of a fixed size
(`ParquetSink`), so a file's bytes depend only on its rows, never on how DuckDB's
threads or batches happened to cut the result.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

BATCH_ROWS = 1 << 16  # rows per batch read from DuckDB
ROW_GROUP_ROWS = 122_880  # rows per Parquet row group (DuckDB's own default)
ZSTD_LEVEL = 3  # DuckDB's default level, the files stay the size they were


def warm_up() -> None:
    """Pay pyarrow's one-off cost now: its first conversion from Python imports pandas
    (about a second), better spent while DuckDB loads than in a stage's critical path."""
    pa.array([0])


def sorted_batches(cur: duckdb.DuckDBPyConnection, query: str) -> Iterator[pa.RecordBatch]:
    """The rows of `query` (which must say ORDER BY) in batches, streamed.

    Run it on a cursor of its own: a statement on the same cursor ends the stream.
    """
    reader = cur.sql(query).to_arrow_reader(BATCH_ROWS)
    for batch in reader:
        if batch.num_rows:
            yield batch


def whole_runs(batches: Iterator[pa.RecordBatch], key: str, target_rows: int) -> Iterator[pa.Table]:
    """Tables of about `target_rows` rows cut between runs of equal `key` (a run
    longer than the target comes whole). Input sorted by `key`."""
    pending: list[pa.RecordBatch] = []
    n = 0
    for batch in batches:
        pending.append(batch)
        n += batch.num_rows
        if n < target_rows:
            continue
        last = batch.column(key)
        tail = pc.sum(pc.equal(last, last[-1])).as_py()  # sorted: the trailing run
        if tail == batch.num_rows:  # the run may start in an earlier batch
            keys = pa.chunked_array([b.column(key) for b in pending])
            tail = pc.sum(pc.equal(keys, last[-1])).as_py()
        cut = n - tail
        if cut == 0:
            continue  # one run fills the buffer: keep reading until it ends
        table = pa.Table.from_batches(pending)
        yield table.slice(0, cut)
        rest = table.slice(cut)
        pending, n = rest.to_batches(), rest.num_rows
    if n:
        yield pa.Table.from_batches(pending)


def numbers(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A numeric Arrow column without nulls as numpy (a view when it is one chunk).

    Not `to_numpy`: pyarrow imports pandas on its first call (about a second).
    """
    if isinstance(arr, pa.ChunkedArray):
        chunks = [numbers(c) for c in arr.chunks]
        return np.concatenate(chunks) if len(chunks) != 1 else chunks[0]
    if arr.null_count:
        raise ValueError("internal error: a null in a column that has none")
    dtype = np.dtype(arr.type.to_pandas_dtype())
    return np.frombuffer(arr.buffers()[1], dtype=dtype, count=len(arr), offset=arr.offset * dtype.itemsize)


def run_starts(keys: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Start offsets of the runs of equal values in a sorted column, plus its length."""
    n = len(keys)
    if n == 0:
        return np.zeros(1, dtype=np.int64)
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    change = numbers(pc.indices_nonzero(pc.not_equal(keys.slice(1), keys.slice(0, n - 1))))
    return np.concatenate(([0], change + 1, [n])).astype(np.int64)


def to_ipc(table: pa.Table) -> bytes:
    """A table as Arrow IPC bytes, to ship to a worker: only the rows of a slice travel
    (pickling a sliced table would send its parent's whole buffers)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def from_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


class ParquetSink:
    """A zstd Parquet file written from Arrow batches in row groups of exactly
    `ROW_GROUP_ROWS` (the last one shorter); holds at most one row group in memory.
    Batches are cast to `schema` (a null in a required column is an error).
    `options` go to `pyarrow.parquet.ParquetWriter` (encodings)."""

    def __init__(self, path: Path, schema: pa.Schema, row_group_rows: int = ROW_GROUP_ROWS,
                 **options) -> None:
        self.path = Path(path)
        self.schema = schema
        self.rows = 0
        self._group = row_group_rows
        self._pending: list[pa.RecordBatch] = []
        self._n = 0
        self._writer = pq.ParquetWriter(self.path, schema, compression="zstd",
                                        compression_level=ZSTD_LEVEL, **options)

    def write(self, batch: pa.RecordBatch | pa.Table) -> None:
        batches = batch.to_batches() if isinstance(batch, pa.Table) else [batch]
        for b in batches:
            b = b.cast(self.schema)
            self._pending.append(b)
            self._n += b.num_rows
            self.rows += b.num_rows
        while self._n >= self._group:
            table = pa.Table.from_batches(self._pending)
            self._writer.write_table(table.slice(0, self._group), row_group_size=self._group)
            rest = table.slice(self._group)
            self._pending, self._n = rest.to_batches(), rest.num_rows

    def close(self) -> None:
        if self._n:
            self._writer.write_table(pa.Table.from_batches(self._pending), row_group_size=self._group)
            self._pending, self._n = [], 0
        self._writer.close()

    def __enter__(self) -> ParquetSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

