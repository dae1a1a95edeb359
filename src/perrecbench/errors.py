"""One exception family, so the CLI can print user errors without a traceback."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any


class PerRecBenchError(Exception):
    """Base class for errors a user can fix; the CLI prints them and exits with `exit_code`."""

    exit_code = 1


class InputDataError(PerRecBenchError):
    """An input file is missing, unreadable, or has no usable rows."""

    exit_code = 2


class ConfigError(PerRecBenchError):
    """Bad option values or an inconsistent combination of them."""

    exit_code = 3


class BenchmarkError(PerRecBenchError):
    """A benchmark or run directory is missing files or does not match."""

    exit_code = 4


class ModelError(PerRecBenchError):
    """A model backend cannot be created or used (missing SDK, missing key...)."""

    exit_code = 5


class TruthHiddenError(ModelError):
    """A model read what it is scored against: a member's rating or relative rating, or a
    question's true order, of the split being evaluated (`types.PublicMember`). Its
    message starts "the truth is hidden from models: "."""


class OutputLocked(PerRecBenchError):
    """Another process is writing the same output (a benchmark, run directory, sweep...)."""

    exit_code = 75  # EX_TEMPFAIL: nothing is wrong with the command; try again later (or with --wait)

    def __init__(self, out: object, pid: int | None):
        self.out, self.pid = out, pid
        super().__init__(f"{self.holder(pid)} is writing {out}; run again when it is done, or add --wait "
                         "to wait for it")

    @staticmethod
    def holder(pid: int | None) -> str:
        """Who holds a lock, in words."""
        if pid is None:
            return "another process"
        return f"this process (PID {pid}, another thread)" if pid == os.getpid() else f"another process (PID {pid})"


class Interrupted(PerRecBenchError):
    """Ctrl-C: the message says what is saved; exit 130 as a shell expects after SIGINT."""

    exit_code = 130


def validation_message(exc: Any) -> str:
    """A pydantic `ValidationError` in one line: `where: what` for each error, `;`-separated
    (a whole-value error says `value`)."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors())


def install_hint(extra: str) -> str:
    """How to install an extra, worded the same everywhere: from the package index, and from a
    clone of the repository (where `perrecbench[...]` would fetch the package from the index)."""
    return f"pip install 'perrecbench[{extra}]' (from a clone: pip install -e '.[{extra}]')"


class StorageFull(PerRecBenchError):
    """A file could not be written for lack of room: the device is full, or a quota or
    file size limit was reached. The command stops at once, keeping what it could."""

    exit_code = 6

    def __init__(self, path: Path | str, why: str):
        self.path, self.why = Path(path), why
        super().__init__(f"cannot write {self.path}: {why} (device mounted at {_mount_point(self.path)}); "
                         "stopped; the answers so far are saved as far as room allowed -- make room and run the "
                         "same command again to resume")


#: errno values that mean "no room", not "cannot write here"
_NO_ROOM = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
            errno.EFBIG: "file size limit reached"}


def storage_full(exc: BaseException, path: Path | str) -> StorageFull | None:
    """`exc` as a `StorageFull` about `path` when it says there is no room, else None."""
    if isinstance(exc, StorageFull):
        return exc
    if isinstance(exc, OSError) and exc.errno in _NO_ROOM:
        return StorageFull(path, _NO_ROOM[exc.errno])
    return None


def _mount_point(path: Path) -> Path:
    p = path.absolute()
    while not os.path.ismount(p) and p.parent != p:
        p = p.parent
    return p
