"""One writer per output: an exclusive lock on every folder or file a command writes.

Why: two processes writing the same benchmark, run directory, sweep, adapter or
report mix their files or pay every request twice. So whatever writes an output
first takes `output_lock(out)`, before any work; a second process is refused at once
with `OutputLocked` ("another process (PID n) is writing OUT"), or, under
`waiting()` (the CLI's `--wait`), waits until the first one is done.

Where the lock lives: beside the output, as the hidden file `.<name>.lock` in its
parent folder -- never inside it: a build's OUT is written elsewhere and renamed
into place, and a file inside a run directory would be one more file in it. Hidden,
so `runs/*` never lists it; a file, so nothing that looks for run folders takes it
for one.

How: `fcntl.flock` on that file, so the kernel decides and a lock dies with its
process (a crashed holder's file is simply taken over); the holder writes its PID
into the file for the message. The file is removed when the lock is released (after
taking it, a process checks that the file it locked is still the one at the path,
so removing it is safe); one left behind by a killed process is harmless. Locks are
re-entrant within a thread: the CLI may lock OUT for a whole command and the library
function it calls locks it again. Without `fcntl` (Windows) outputs are not locked.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import inspect
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

from .errors import ConfigError, OutputLocked
from .home import home_dir

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

#: how often a waiting process tries again
POLL_S = 0.1
#: tests only: after taking its locks, a process creates `<this path>.held` and waits until
#: the path exists -- a barrier that makes two processes overlap without timing luck
PAUSE_ENV = "PERRECBENCH_TEST_PAUSE_AFTER_LOCK"

Notify = Callable[[str], None]


@dataclass(frozen=True)
class _Policy:
    wait: bool = False
    notify: Notify | None = None  # told once per busy output while waiting


_POLICY: ContextVar[_Policy | None] = ContextVar("perrecbench_lock_policy", default=None)  # None: refuse


def set_waiting(wait: bool, notify: Notify | None = None) -> None:
    """Wait for busy outputs (True) or refuse them (False) from now on, in this context
    (the CLI's `--wait`); `notify` gets one line when a wait begins."""
    _POLICY.set(_Policy(wait, notify))


@contextmanager
def waiting(wait: bool = True, notify: Notify | None = None) -> Iterator[None]:
    """`set_waiting` for the duration of a `with` block."""
    token = _POLICY.set(_Policy(wait, notify))
    try:
        yield
    finally:
        _POLICY.reset(token)


def lock_path(out: Path | str) -> Path:
    """The lock file of `out`: `.<name>.lock` beside it (the path resolved, so every
    spelling of one output shares one lock); where its parent folder cannot be written
    (an OUT that is a mount point, `--out .` below a read-only folder), a file named by
    the path's hash in `$PERRECBENCH_HOME/locks`."""
    p = Path(out).expanduser().resolve()
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        writable = os.access(p.parent, os.W_OK | os.X_OK)
    except OSError:
        writable = False
    if writable:
        return p.parent / f".{p.name or 'root'}.lock"
    return home_dir() / "locks" / (hashlib.sha256(str(p).encode()).hexdigest()[:32] + ".lock")


@dataclass
class _Held:
    fd: int
    thread: int
    count: int = 1


_HELD: dict[Path, _Held] = {}
_GUARD = threading.Lock()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


NEW, AGAIN, BUSY = "new", "again", "busy"  # what `_try_take` found


def _try_take(path: Path) -> tuple[str, int | None]:
    """(NEW, None): this thread now holds `path`; (AGAIN, None): it held it already;
    (BUSY, the holder's PID or None): another process or thread holds it."""
    me = threading.get_ident()
    with _GUARD:
        held = _HELD.get(path)
        if held is not None:
            if held.thread != me:
                return BUSY, os.getpid()
            held.count += 1
            return AGAIN, None
        if fcntl is None:  # pragma: no cover - not POSIX: no locking
            _HELD[path] = _Held(-1, me)
            return NEW, None
        while True:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
            except OSError as exc:
                raise ConfigError(f"cannot create the lock file {path}: {exc.strerror or exc}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                pid = _read_pid(fd)
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    return BUSY, pid
                raise ConfigError(f"cannot lock {path}: {exc.strerror or exc}") from None
            try:  # the holder before us may have removed the file it locked: lock the current one
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
            _HELD[path] = _Held(fd, me)
            return NEW, None


def _release(path: Path) -> None:
    with _GUARD:
        held = _HELD[path]
        held.count -= 1
        if held.count:
            return
        del _HELD[path]
        if held.fd < 0:  # pragma: no cover - not POSIX
            return
        try:
            os.unlink(path)  # while still locked: a waiter on this file sees it gone and retries
        except OSError:
            pass
        os.close(held.fd)


def _pause_for_tests() -> None:
    gate = os.environ.get(PAUSE_ENV)
    if not gate:
        return
    Path(gate + ".held").write_text(f"{os.getpid()}\n", encoding="ascii")
    while not Path(gate).exists():
        time.sleep(0.02)


@contextmanager
def output_lock(*outs: Path | str | None, wait: bool | None = None) -> Iterator[None]:
    """Hold the exclusive lock of every output in `outs` (None entries are skipped) for
    the `with` block. A busy output raises `OutputLocked` naming the holder's PID, or,
    with `wait` (default: the `waiting` policy), is waited for. Several outputs are
    taken in one fixed order, so two waiting processes never wait for each other."""
    policy = _POLICY.get() or _Policy()
    wait = policy.wait if wait is None else wait
    paths = {lock_path(o): o for o in outs if o is not None}
    taken: list[Path] = []
    fresh = False
    try:
        for path in sorted(paths):
            told, unknown = False, 0
            while True:
                found, pid = _try_take(path)
                if found != BUSY:
                    taken.append(path)
                    fresh = fresh or found == NEW
                    break
                if pid is None and unknown < 20:  # just taken: its holder writes its PID right after
                    unknown += 1
                    time.sleep(0.01)
                    continue
                if not wait:
                    raise OutputLocked(paths[path], pid)
                if not told and policy.notify is not None:
                    policy.notify(f"waiting: {OutputLocked.holder(pid)} is writing {paths[path]}")
                    told = True
                time.sleep(POLL_S)
        if fresh:
            _pause_for_tests()
        yield
    finally:
        for path in reversed(taken):
            _release(path)


P = ParamSpec("P")
R = TypeVar("R")


def locked(*outputs: str | Callable[[dict[str, Any]], Path | str | None],
           when: Callable[[], bool] | None = None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: call the function holding `output_lock` on its outputs, each named by
    a parameter (a path or None) or computed from the arguments (`{name: value}`);
    `when()` false: no lock. Works for plain and async functions."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        sig = inspect.signature(func)

        def lock(args: Any, kwargs: Any) -> Any:
            if when is not None and not when():
                return nullcontext()
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            a = bound.arguments
            return output_lock(*(a[o] if isinstance(o, str) else o(a) for o in outputs))

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with lock(args, kwargs):
                    return await func(*args, **kwargs)

            return cast(Callable[P, R], run_async)

        @functools.wraps(func)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with lock(args, kwargs):
                return func(*args, **kwargs)

        return run

    return decorate
