"""Unexpected errors: the full details go to a file, the user gets one line naming it."""

from __future__ import annotations

import time
import traceback
from pathlib import Path

from ..constants import __version__
from ..home import home_dir
from ..redaction import redact


def crash_dir() -> Path:
    return home_dir() / "crashes"


def report_crash(exc: BaseException, argv: list[str]) -> Path:
    """Write the traceback, the command line and the version; return the file's path."""
    folder = crash_dir()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"crash-{stamp}-{id(exc) & 0xFFFF:04x}.txt"
        text = (f"perrecbench {__version__}\ncommand: {' '.join(argv)}\n\n"
                + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        path.write_text(redact(text), encoding="utf-8")
        return path
    except OSError:  # nowhere to write: stderr is the last resort
        import sys

        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        return Path("<stderr>")
