"""Input files: existence checks, format by name, streamed checksums.

Why: every reader needs the same answers (is it there, what is it, what exactly did
we read) and the same friendly errors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from ..errors import InputDataError

COMPRESSIONS = (".gz", ".zst")
JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")
CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".dat")


def require_files(paths: Iterable[Path | str], what: str) -> list[Path]:
    """The paths as `Path`s; InputDataError naming the first one that is not a readable file."""
    out = []
    for p in paths:
        path = Path(p)
        if not path.exists():
            raise InputDataError(f"{path}: {what} file not found")
        if not path.is_file():
            raise InputDataError(f"{path}: {what} path is not a file")
        out.append(path)
    return out


def data_format(path: Path) -> str:
    """'jsonl', 'parquet', 'csv' or 'tsv' from the file name (compression suffix ignored)."""
    name = path.name.lower()
    for c in COMPRESSIONS:
        name = name.removesuffix(c)
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(JSON_SUFFIXES):
        return "jsonl"
    if name.endswith(".tsv"):
        return "tsv"
    return "csv"


def sha256_file(path: Path, block: int = 1 << 22) -> str:
    """Streamed sha256 ("sha256:<hex>"), constant memory whatever the file size."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(block):
                h.update(chunk)
    except OSError as exc:
        raise InputDataError(f"{path}: cannot read ({exc})") from exc
    return "sha256:" + h.hexdigest()


class Checksums:
    """Hash files in a background thread while DuckDB reads them (hashlib releases the GIL)."""

    def __init__(self, paths: Iterable[Path], enabled: bool = True) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1) if enabled else None
        self._futures: dict[Path, Future[str]] = {}
        if self._pool is not None:
            for p in paths:
                if p not in self._futures:
                    self._futures[p] = self._pool.submit(sha256_file, p)

    def get(self, path: Path) -> str | None:
        fut = self._futures.get(path)
        return fut.result() if fut is not None else None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> Checksums:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
