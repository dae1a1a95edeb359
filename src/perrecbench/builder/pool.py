"""Forked worker processes for the build's pure-Python stages, with bounded memory.

Why: the group search and the question lines are Python loops over independent
items; two or more processes halve them. Two rules keep memory bounded at any
input size:

* the pool is forked once (`start`), early, while the parent is small: a worker forked
  after DuckDB filled its buffers keeps a copy-on-write image of them as the parent
  rewrites its own. Every worker gets the build's shared read-only data (`payload`)
  as an initializer argument: with the fork start method it is inherited, never
  pickled, and no module global of the builder is involved;
* tasks carry their own (small) data and at most `window` of them are in flight:
  a producer streaming chunks from DuckDB never runs ahead of the workers.

Results come back in task order, so the output never depends on the worker count.
Workers never touch DuckDB (its threads do not survive a fork), only Python data.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_worker_payload: Any = None  # set once per worker process by _init; read only by _call


def _init(payload: Any, warmup: Callable[[], None] | None) -> None:
    global _worker_payload
    # Ctrl-C in a terminal reaches every process of the group: the parent stops the build
    # (and terminates the pool); a worker would only print its own traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_payload = payload
    if warmup is not None:
        warmup()


def _call(fn: Callable[[Any, Any], Any], task: Any) -> Any:
    return fn(_worker_payload, task)


def default_workers() -> int:
    """Worker processes for the Python stages: the cores this process may use, at most 4."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    return max(1, min(4, n))


class WorkerPool(Generic[T]):
    """`map(fn, tasks)` = `fn(payload, task)` for each task, in order, in forked workers
    (or in this process when `workers` is 1 or fork is unavailable)."""

    def __init__(self, payload: T, workers: int, window_per_worker: int = 2,
                 warmup: Callable[[], None] | None = None) -> None:
        """`warmup` runs in each worker as it starts (slow imports, while the parent works)."""
        self.payload = payload
        self.warmup = warmup
        self.workers = max(1, int(workers))
        self.window = self.workers * max(1, window_per_worker)
        self._pool: Any = None  # multiprocessing.pool.Pool once forked

    @property
    def forks(self) -> bool:
        return self.workers > 1 and "fork" in multiprocessing.get_all_start_methods()

    def start(self) -> None:
        """Fork the workers now (else on the first parallel `map`)."""
        if self._pool is None and self.forks:
            with warnings.catch_warnings():
                # Python >= 3.12 warns about forking a process with threads (DuckDB's);
                # the children only run pure Python on their own data
                warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*fork.*")
                self._pool = multiprocessing.get_context("fork").Pool(
                    self.workers, initializer=_init, initargs=(self.payload, self.warmup))

    def map(self, fn: Callable[[T, Any], R], tasks: Iterable[Any], parallel: bool = True) -> Iterator[R]:
        """Results of `fn(payload, task)` in task order; `parallel=False` runs here
        (small inputs, where shipping tasks costs more than it saves)."""
        if parallel:
            self.start()
        if self._pool is None or not parallel:
            for task in tasks:
                yield fn(self.payload, task)
            return
        pending: deque = deque()
        for task in tasks:
            pending.append(self._pool.apply_async(_call, (fn, task)))
            if len(pending) >= self.window:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> WorkerPool[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
