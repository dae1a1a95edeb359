"""Text encodings of input files that DuckDB's reader cannot take as they are.

MovieLens ships some files in Latin-1 (ml-100k `u.item`, ml-1m `movies.dat`), while
copies redistributed by others are UTF-8. `UTF8_OR_LATIN1` reads a file as UTF-8 when
it is valid UTF-8, else as Latin-1. DuckDB's Latin-1 decoder refuses the bytes
0x80-0x9F, which Latin-1 maps to C1 control characters, so Latin-1 files are read
through a UTF-8 copy made here: every one of the 256 byte values is a Latin-1 character.
"""

from __future__ import annotations

import atexit
import codecs
import gzip
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO

from ..errors import InputDataError

#: an encoding name of ours: UTF-8 if the file is valid UTF-8, else Latin-1
UTF8_OR_LATIN1 = "utf-8-or-latin-1"
LATIN1_NAMES = frozenset({"latin-1", "latin1", "iso-8859-1", "iso8859-1", "l1"})
_BLOCK = 1 << 20
_copies: list[Path] = []


def _open(path: Path) -> IO[bytes]:
    if path.name.lower().endswith(".gz"):
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]  # a binary file object
    return open(path, "rb")


def is_utf8(path: Path) -> bool:
    """Whether the whole file decodes as UTF-8 (streamed; a .gz file is decompressed)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with _open(path) as fh:
            while block := fh.read(_BLOCK):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    except (OSError, EOFError) as exc:
        raise InputDataError(f"{path}: cannot read ({exc})") from exc
    return True


def utf8_copy_of_latin1(path: Path) -> Path:
    """A UTF-8 copy of a Latin-1 file (removed when the process exits)."""
    fd, name = tempfile.mkstemp(prefix="perrecbench-latin1-", suffix=".txt")
    out = Path(name)
    if not _copies:
        atexit.register(_remove_copies)
    _copies.append(out)
    try:
        with os.fdopen(fd, "wb") as dst, _open(path) as src:
            while block := src.read(_BLOCK):
                dst.write(block.decode("latin-1").encode("utf-8"))
    except (OSError, EOFError) as exc:
        raise InputDataError(f"{path}: cannot read ({exc})") from exc
    return out


def readable(path: Path, encoding: str) -> tuple[Path, str]:
    """(the file DuckDB should read, its encoding) for `path` written in `encoding`."""
    name = encoding.lower().replace("_", "-")
    if name == UTF8_OR_LATIN1:
        name = "utf-8" if is_utf8(path) else "latin-1"
    if name in LATIN1_NAMES:
        return utf8_copy_of_latin1(path), "utf-8"
    return path, name


def _remove_copies() -> None:
    while _copies:
        p = _copies.pop()
        try:
            p.unlink()
        except OSError:
            shutil.rmtree(p, ignore_errors=True)
