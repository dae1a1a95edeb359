"""Start the OpenAI backend's HTTP worker process ahead of need.

A worker spends about a second importing the SDK. Started by the CLI before its own
imports, argument parsing and benchmark loading, that second runs beside them instead
of after them. The runner adopts the spare when its settings call for a worker
(`workers_for`); one it does not adopt is stopped at exit. This module imports almost
nothing, so starting the spare costs the CLI no time.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys

#: with at least this many requests in flight, `http_workers=auto` moves the SDK's HTTP
#: work into a helper process (when the machine has a second core for it)
WORKER_CONCURRENCY = 16
WORKER_MODULE = "perrecbench.models.llm.providers.http_worker"

_spares: list[subprocess.Popen] = []


def workers_for(max_concurrency: int, http_workers: int | str = "auto") -> int:
    """How many worker processes an openai-backend run uses. `auto`: one at >=
    WORKER_CONCURRENCY requests in flight on a multi-core machine (there the runner's
    one core is the limit), else none."""
    if http_workers != "auto":
        return int(http_workers)
    return 1 if max_concurrency >= WORKER_CONCURRENCY and (os.cpu_count() or 1) >= 2 else 0


def spawn() -> subprocess.Popen:
    """A new worker process; it waits for its settings frame (see `http_worker`). In
    its own session, so a Ctrl-C at the terminal reaches only the runner, which stops
    it; if the runner dies, the worker's input closes and it exits."""
    return subprocess.Popen([sys.executable, "-m", WORKER_MODULE], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, close_fds=True, start_new_session=True)


def prestart() -> None:
    """Start one spare worker now (once per process)."""
    if not _spares:
        _spares.append(spawn())
        atexit.register(stop_spares)


def take_spare() -> subprocess.Popen | None:
    """A running spare, now the caller's, or None."""
    while _spares:
        proc = _spares.pop()
        if proc.poll() is None:
            return proc
    return None


def stop_spares() -> None:
    while _spares:
        proc = _spares.pop()
        if proc.stdin is not None:
            proc.stdin.close()
        proc.kill()
        proc.wait()
