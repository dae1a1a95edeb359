"""`--memory-limit` as a bound on the whole build: DuckDB's share and Python's.

Why: DuckDB's `memory_limit` only covers DuckDB's buffers. The build also holds
Python data (streamed chunks of candidate raters, the chosen groups, Arrow batches
on their way to the Parquet writer) and forked worker processes. So DuckDB gets the
user's limit minus a reserve for all of that, and every Python stage works in
chunks whose size does not grow with the input (see docs/performance.md, "Build",
for the measured peaks). Below `DUCKDB_FLOOR` DuckDB cannot run the checked load
(its CSV reader needs buffers of about 32 MB per thread), so a tinier limit gets the
floor: the bound then holds with the documented overhead rather than exactly.
"""

from __future__ import annotations

import re

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


def human(n: int) -> str:
    """'1.5 GB' / '96 MB' (decimal units, as the limit is given)."""
    return f"{n / GB:.2f} GB" if n >= GB else f"{n / MB:.0f} MB"
