"""`--memory-limit` as a bound on the whole build: DuckDB's share and Python's.

Why: DuckDB's `memory_limit` only covers DuckDB's buffers. The build also holds
Python data (streamed chunks of candidate raters, the chosen groups, Arrow batches
on their way to the Parquet writer) and forked worker processes. So DuckDB gets the
user's limit minus a reserve for all of that, and every Python stage works in
chunks whose size does not grow with the input (see docs/performance.md, "Build",
for the measured peaks). Below `DUCKDB_FLOOR` DuckDB cannot run the checked load
(its CSV reader needs buffers of about 32 MB per thread), so a tinier share gets the
floor.

A limit below `floor(input)`, the smallest that builds an input of that size (measured,
with a margin, see docs/performance.md "Build"), is refused before any work with the
limit that works; DuckDB running out of memory all the same is reported the same way
(`out_of_memory`), never as a crash.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path

from ..errors import ConfigError

KB, MB, GB = 1000, 1000**2, 1000**3
UNITS = {
    "b": 1, "kb": KB, "mb": MB, "gb": GB, "tb": 1000 * GB,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}
DUCKDB_FLOOR = 96 * MB  # the smallest DuckDB limit the checked load runs in
RESERVE_SHARE = 0.25  # of the user's limit, kept for Python ...
RESERVE_MIN, RESERVE_MAX = 64 * MB, 512 * MB  # ... within these bounds
MEMORY_PER_THREAD = 96 * MB  # DuckDB gets no more threads than its share holds
# The smallest --memory-limit a build runs in (docs/performance.md, "Build"): DuckDB's
# JSON/CSV reader holds about three 32 MB buffers at once, plus its tables. An input
# below SMALL_INPUT (under three buffers) builds with DuckDB's floor share, so any
# limit; a larger one failed at 170MB and built at 180MB (2 M reviews, 0.46 GB), and
# built at FLOOR_BASE at 5 M (1.1 GB). FLOOR_BASE keeps a margin over 180MB.
SMALL_INPUT = 96 * MB
FLOOR_BASE = 250 * MB
COMPRESSED_RATIO = 4  # .gz / .zst / Parquet input: about this much larger once read
SUGGEST_FACTOR = 2  # after running out of memory: suggest this many times the limit


class MemoryLimitTooSmall(ConfigError):
    """--memory-limit below what the build needs: said in one line with a limit that works."""


def parse_size(text: str) -> int:
    """Bytes in '2GB', '1.5 GiB', '500MB' (units as DuckDB reads them: GB = 10^9, GiB = 2^30)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
    unit = m.group(2).lower() if m else ""
    if not m or unit not in UNITS:
        raise ConfigError(f"memory limit {text!r}: expected a size such as 2GB, 1.5GiB or 500MB")
    size = int(float(m.group(1)) * UNITS[unit])
    if size <= 0:
        raise ConfigError(f"memory limit {text!r} must be above zero")
    return size


def duckdb_share(limit: int) -> int:
    """Bytes DuckDB may use when the whole build should stay within `limit` bytes."""
    reserve = min(RESERVE_MAX, max(RESERVE_MIN, int(limit * RESERVE_SHARE)))
    return max(DUCKDB_FLOOR, limit - reserve)


def duckdb_threads(share: int | None, cores: int) -> int:
    """DuckDB threads for a memory share: every thread holds buffers of its own (the CSV
    reader's are ~32 MB), so a small share gets few threads (at least 2 when there are
    2 cores). Output never depends on the thread count."""
    if share is None:
        return max(1, cores)
    return max(1, min(cores, max(2, share // MEMORY_PER_THREAD)))


def input_bytes(paths: Iterable[Path | str]) -> int:
    """The input's size as the build reads it: compressed files count COMPRESSED_RATIO
    times, a folder its files; paths that do not exist count nothing (checked later)."""
    total = 0
    for p in map(Path, paths):
        try:
            files = [f for f in p.iterdir() if f.is_file()] if p.is_dir() else [p]
        except OSError:  # unreadable: the reader says so, naming it
            continue
        for f in files:
            try:
                size = f.stat().st_size
            except OSError:
                continue
            compressed = f.name.lower().endswith((".gz", ".zst", ".parquet"))
            total += size * COMPRESSED_RATIO if compressed else size
    return total


def floor(n_input_bytes: int) -> int:
    """The smallest --memory-limit that builds an input of this size (0: any)."""
    return FLOOR_BASE if n_input_bytes > SMALL_INPUT else 0


def limit_text(n: int) -> str:
    """A --memory-limit value of at least `n` bytes, rounded up: '250MB', '1.3GB'."""
    if n < GB:
        return f"{math.ceil(n / (10 * MB)) * 10}MB"
    return f"{math.ceil(n / (GB / 10)) / 10:g}GB"


def check_limit(given: str, limit: int, n_input_bytes: int) -> None:
    """Refuse, before any work, a limit below the measured floor for this input."""
    need = floor(n_input_bytes)
    if limit < need:
        raise MemoryLimitTooSmall(
            f"--memory-limit {given} is below what a build of over {human(SMALL_INPUT)} of input "
            f"needs ({n_input_bytes / GB:.2f} GB here); use --memory-limit {limit_text(need)} or more")


def out_of_memory(given: str | None, limit: int | None, n_input_bytes: int, stage: str,
                  duck_limit: int | None, exc: BaseException) -> MemoryLimitTooSmall:
    """DuckDB's (or Python's) out-of-memory error as one line naming --memory-limit and
    a limit to try: SUGGEST_FACTOR times the given one, and never below the floor."""
    what = " ".join(str(exc).split()).replace("Out of Memory Error: ", "").split(" Possible solutions")[0]
    what = what if len(what) <= 160 else what[:160] + " ..."
    share = f" (DuckDB's share {human(duck_limit)})" if duck_limit else ""
    if limit is None:
        return MemoryLimitTooSmall(
            f"the build ran out of memory while {stage}: {what}; set --memory-limit "
            f"below the machine's free memory so that DuckDB spills to disk")
    suggest = limit_text(max(SUGGEST_FACTOR * limit, floor(n_input_bytes)))
    return MemoryLimitTooSmall(
        f"the build ran out of memory while {stage}: --memory-limit {given}{share} is too small "
        f"for this input ({what}); use --memory-limit {suggest} or more")


def human(n: int) -> str:
    """'1.5 GB' / '96 MB' (decimal units, as the limit is given)."""
    return f"{n / GB:.2f} GB" if n >= GB else f"{n / MB:.0f} MB"
