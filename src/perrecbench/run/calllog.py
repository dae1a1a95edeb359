"""`calls.jsonl` of each run directory: the run owns its call log.

The LLM client describes every attempt as a `records.CallRecord` and hands it to a
sink; the runner gives it a `CallRouter` that writes each record into the call log of
the run directory of its method (one model may answer several methods at once, each
into its own directory). Lines are buffered and written by `flush`, which the runner
calls before it writes predictions, so a prediction on disk always has its call lines.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from ..errors import StorageFull, storage_full
from ..records import CallRecord
from .rundir import RunDir

#: lines held at most before a log writes by itself
MAX_PENDING = 256


class CallLog:
    """One `calls.jsonl`, appended to; the file is opened at the first record (a model
    that makes no calls leaves none)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lines: list[str] = []
        self._fh: IO[str] | None = None
        self._broken = False

    def write(self, record: CallRecord) -> None:
        self._lines.append(record.to_json() + "\n")
        if len(self._lines) >= MAX_PENDING:
            self.flush()

    def _open(self) -> IO[str]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        torn = self.path.exists() and self.path.stat().st_size > 0 and not _ends_with_newline(self.path)
        fh = open(self.path, "a", encoding="utf-8")
        if torn:  # a killed run left half a line: end it, so the next record stands alone
            fh.write("\n")
        return fh

    def flush(self) -> None:
        """Append the lines held; a write that fails for lack of room raises `StorageFull`,
        and nothing more is appended after the torn line it may leave."""
        if self._lines and not self._broken:
            try:
                if self._fh is None:
                    self._fh = self._open()
                self._fh.write("".join(self._lines))
                self._lines.clear()
                self._fh.flush()
            except OSError as exc:
                self._broken = True
                full = storage_full(exc, self.path)
                if full is None:
                    raise
                raise full from exc

    def close(self) -> None:
        try:
            self.flush()
            if self._fh is not None:
                self._fh.close()
        except (OSError, StorageFull):
            if not self._broken:
                raise
        finally:
            self._fh = None


class CallRouter:
    """A call sink for one model: each record goes to its method's run directory."""

    def __init__(self, run_dirs: dict[str, Path]):
        self._logs = {method: CallLog(RunDir(d).calls_path) for method, d in run_dirs.items()}
        self._other: CallLog | None = None
        self._default = next(iter(run_dirs.values())) if run_dirs else None

    def write(self, record: CallRecord) -> None:
        log = self._logs.get(record.method or "")
        if log is None:  # a call about no method of this run (none today): the first directory
            if self._other is None and self._default is not None:
                self._other = CallLog(RunDir(self._default).calls_path)
            log = self._other
        if log is not None:
            log.write(record)

    def flush(self) -> None:
        for log in self._logs.values():
            log.flush()
        if self._other is not None:
            self._other.flush()

    def close(self) -> None:
        for log in self._logs.values():
            log.close()
        if self._other is not None:
            self._other.close()


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"
