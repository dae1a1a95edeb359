"""One exception family, so the CLI can print user errors without a traceback."""

from __future__ import annotations

import os


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


def install_hint(extra: str) -> str:
    """How to install an extra, worded the same everywhere: from the package index, and from a
    clone of the repository (where `perrecbench[...]` would fetch the package from the index)."""
    return f"pip install 'perrecbench[{extra}]' (from a clone: pip install -e '.[{extra}]')"
