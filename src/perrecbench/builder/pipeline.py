"""A whole build: raw files -> DuckDB -> benchmark directory, on a connection it owns.

Why here and not in the CLI: `build` and `demo` (and library users) need the same
order of things, and the order matters. The directory is staged first
(`<out>.building`, see `staging`), then the DuckDB connection is created with every
setting fixed once, before its first query: the memory limit (DuckDB's share of
`--memory-limit`, see `memory`), the spill directory (inside the staging folder, so a
failed build leaves nothing behind), threads, insertion order, time zone. Nothing
SETs them later. Then the source is loaded and the benchmark written.

A stage that fails unexpectedly (a bug, DuckDB out of disk) raises `BuildFailed`, one
line naming the stage, with the traceback written to `<out>.build-error.log`; input and
option errors pass through as they are. A `--memory-limit` below the measured floor for
the input's size is refused before any work, and running out of memory all the same
ends in one line naming `--memory-limit` and a limit to use (`memory.out_of_memory`).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from ..constants import __version__
from ..data.duck import connect, is_out_of_memory
from ..data.report import LoadReport
from ..errors import ConfigError, PerRecBenchError
from ..locking import locked
from ..records import BenchManifest
from .builder import write_benchmark
from .memory import (
    check_limit,
    duckdb_share,
    duckdb_threads,
    input_bytes,
    out_of_memory,
    parse_size,
)
from .params import BuildParams
from .pool import WorkerPool, default_workers
from .staging import check_target, staged_directory
from .stream import warm_up

Progress = Callable[[str, int, int], None]
POLL_S = 0.25  # how often DuckDB's progress and the spill folder are looked at


class BuildFailed(PerRecBenchError):
    """A build stage failed for a reason that is not the input's or the options' fault."""

    exit_code = 1

    def __init__(self, stage: str, exc: BaseException, log: Path):
        self.stage, self.log = stage, log
        what = " ".join(str(exc).split())
        what = what if len(what) <= 300 else what[:300] + " ..."
        super().__init__(f"the build failed while {stage}: {type(exc).__name__}: {what} "
                         f"(full details in {log}; nothing was written to the output folder)")


@dataclass(frozen=True)
class BuildResult:
    manifest: BenchManifest
    seconds: float
    spilled_bytes: int  # most disk DuckDB's spill folder held at once
    duckdb_memory_limit: int | None  # bytes given to DuckDB (None: its default)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _disk_usage(folder: Path) -> int:
    total = 0
    try:
        with os.scandir(folder) as it:
            for entry in it:
                try:
                    total += entry.stat(follow_symlinks=False).st_blocks * 512
                except (FileNotFoundError, AttributeError):
                    pass
    except FileNotFoundError:
        pass
    return total


class _Watch:
    """A thread that follows a build: the current stage (for messages), DuckDB's own
    progress of the statement running on `con` (stages that report none themselves),
    and the peak size of the spill folder."""

    def __init__(self, progress: Progress, spill_dir: Path):
        self.progress = progress
        self.spill_dir = spill_dir
        self.stage = "starting"
        self.total = 1
        self.peak_spill = 0
        self.con: duckdb.DuckDBPyConnection | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="perrecbench-build-watch", daemon=True)

    def report(self, stage: str, done: int, total: int) -> None:
        with self._lock:
            self.stage, self.total = stage, total
            self.progress(stage, done, total)

    def _run(self) -> None:
        last, step, stage = -1.0, 1, None
        while not self._stop.wait(POLL_S):
            self.peak_spill = max(self.peak_spill, _disk_usage(self.spill_dir))
            con = self.con
            if con is None or self.total != 1:
                continue
            try:
                pct = con.query_progress()
            except duckdb.Error:
                continue
            with self._lock:
                if self.total != 1 or pct < 0 or pct == last:
                    continue
                if self.stage != stage:
                    stage, step, last = self.stage, 1, -1.0
                elif pct < last - 20:  # the next statement of the same stage (the next file...)
                    step += 1
                last = pct
                label = stage if step == 1 else f"{stage}, step {step}"
                self.progress(label, int(pct * 10), 1000)

    def __enter__(self) -> _Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_spill = max(self.peak_spill, _disk_usage(self.spill_dir))


def error_log_path(out: Path) -> Path:
    return out.parent / (out.name + ".build-error.log")


@contextmanager
def _stage_errors(watch: _Watch, out: Path, context: dict[str, Any],
                  memory: Callable[[str, BaseException], PerRecBenchError]) -> Iterator[None]:
    """Unexpected exceptions -> BuildFailed naming the stage, traceback to the error log;
    running out of memory -> `memory(stage, exc)`, the one line naming --memory-limit."""
    log = error_log_path(out)
    try:
        yield
    except (PerRecBenchError, KeyboardInterrupt):
        raise
    except Exception as exc:
        if is_out_of_memory(exc):
            log.unlink(missing_ok=True)
            raise memory(watch.stage, exc) from exc
        text = [f"perrecbench {__version__}: build of {out} failed while {watch.stage}",
                *(f"{k}: {v}" for k, v in context.items()), "", traceback.format_exc()]
        try:
            log.write_text("\n".join(text), encoding="utf-8")
        except OSError:
            log = Path("(could not be written: " + str(log) + ")")
        raise BuildFailed(watch.stage, exc, log) from exc
    else:
        log.unlink(missing_ok=True)  # an earlier failure's log no longer applies


@locked("out")  # before any download or load; held until the benchmark is in place
def build_from_source(
    source: str,
    inputs: list[Path],
    meta: list[Path],
    out: Path,
    params: BuildParams,
    options: dict[str, Any] | None = None,
    hub_categories: list[str] | None = None,
    memory_limit: str | None = "2GB",
    temp_dir: Path | None = None,
    workers: int | None = None,
    threads: int | None = None,
    progress: Progress | None = None,
    on_loaded: Callable[[LoadReport], None] | None = None,
) -> BuildResult:
    """Load `source` and write the benchmark to `out`; see the module doc.

    `memory_limit` bounds the whole build (DuckDB gets `memory.duckdb_share` of it);
    `temp_dir` is where DuckDB spills (default: inside `<out>.building`);
    `on_loaded` sees the load report before the build goes on.
    """
    from ..data.sources import load_source

    start = time.monotonic()
    out = Path(out)
    options = dict(options or {})
    inputs, meta = list(inputs), list(meta)
    limit = parse_size(memory_limit) if memory_limit else None
    duck_limit = duckdb_share(limit) if limit else None
    if source != "synthetic" and not inputs and not hub_categories:
        raise ConfigError(f"--source {source} needs --input")
    size = input_bytes(inputs + meta)
    if limit is not None and memory_limit:
        check_limit(memory_limit, limit, size)  # before any work
    check_target(out)  # before any download or load
    if source == "amazon2023" and hub_categories:
        from ..data.hub import download_amazon

        cache = Path(str(options.get("hub_cache") or out.parent / "hub-cache"))
        for cat in hub_categories:
            inputs.append(download_amazon(cat, cache, kind="review"))
            meta.append(download_amazon(cat, cache, kind="meta"))
        size = input_bytes(inputs + meta)
        if limit is not None and memory_limit:
            check_limit(memory_limit, limit, size)  # the downloads are kept for the next try

    def memory(stage: str, exc: BaseException) -> PerRecBenchError:
        return out_of_memory(memory_limit, limit, size, stage, duck_limit, exc)
    with staged_directory(out) as tmp:
        # inside the staging folder: whatever happens, it goes with it
        spill = Path(temp_dir) / f"perrecbench-{os.getpid()}" if temp_dir else tmp / "duckdb-tmp"
        context = {"source": source, "inputs": [str(p) for p in inputs + meta],
                   "memory_limit": memory_limit, "duckdb_memory_limit": duck_limit, "spill_dir": spill}
        watch = _Watch(progress or (lambda *a: None), spill)
        try:
            pool = WorkerPool(params, workers or default_workers(), warmup=warm_up)
            with watch, _stage_errors(watch, out, context, memory), pool:
                watch.report(f"reading {source} data", 0, 1)
                pool.start()  # before DuckDB holds any data: the workers share none of it
                threading.Thread(target=warm_up, daemon=True).start()
                con, con_limit = connect(duck_limit, spill, threads or duckdb_threads(duck_limit, _cores()))
                watch.con = con
                try:
                    report = load_source(con, source, inputs, meta or None, options)
                    if on_loaded is not None:
                        on_loaded(report)
                    manifest = write_benchmark(
                        con, params, tmp, inputs={"source": source, **report.to_dict()},
                        name=out.name, progress=watch.report, pool=pool, memory_limit=con_limit)
                finally:
                    watch.con = None
                    con.close()
        finally:
            shutil.rmtree(spill, ignore_errors=True)
    return BuildResult(manifest, time.monotonic() - start, watch.peak_spill, duck_limit)
