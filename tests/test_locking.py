"""The output lock (`perrecbench.locking`): one writer per output, across processes.

Every overlap here is forced: the other process holds the lock until this test says
so (a pipe or a file it waits on), never by sleeping and hoping."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from perrecbench.errors import OutputLocked, PerRecBenchError
from perrecbench.locking import PAUSE_ENV, lock_path, locked, output_lock, waiting

SRC = str(Path(__file__).resolve().parents[1] / "src")

# holds the lock of argv[1] until a line arrives on stdin; says "held" once it has it
HOLDER = textwrap.dedent("""
    import sys
    from perrecbench.locking import output_lock
    with output_lock(sys.argv[1]):
        print("held", flush=True)
        sys.stdin.readline()
""")


def _holder(out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def _until(cond, timeout: float = 30.0) -> None:
    """Wait for a condition (a fact, not a duration); fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_lock_file_is_hidden_beside_the_output(tmp_path):
    out = tmp_path / "runs" / "cf-list"
    assert lock_path(out) == tmp_path.resolve() / "runs" / ".cf-list.lock"
    assert lock_path(str(out) + "/") == lock_path(tmp_path / "runs" / "x" / ".." / "cf-list")


def test_held_by_another_process_is_refused_naming_its_pid(tmp_path):
    out = tmp_path / "bench"
    proc = _holder(out)
    try:
        with pytest.raises(OutputLocked) as err:
            with output_lock(out):
                pytest.fail("entered a lock another process holds")
        assert isinstance(err.value, PerRecBenchError) and err.value.exit_code != 0
        assert err.value.pid == proc.pid
        message = str(err.value)
        assert f"another process (PID {proc.pid}) is writing {out}" in message and "--wait" in message
        assert "\n" not in message
        assert not out.exists()  # the lock lives beside the output, not in it
    finally:
        proc.communicate("\n", timeout=30)
    assert proc.returncode == 0
    with output_lock(out):  # released: taken at once
        assert lock_path(out).read_text().strip() == str(os.getpid())
    assert not lock_path(out).exists()  # and removed when released


def test_lock_of_a_killed_process_is_taken_over(tmp_path):
    out = tmp_path / "run"
    proc = _holder(out)
    proc.kill()
    proc.wait(timeout=30)
    assert lock_path(out).read_text().strip() == str(proc.pid)  # left behind by the kill
    with output_lock(out):
        assert lock_path(out).read_text().strip() == str(os.getpid())


def test_a_stale_lock_file_is_harmless(tmp_path):
    out = tmp_path / "run"
    lock_path(out).write_text("999999999\n")  # no such process holds anything
    with output_lock(out):
        pass


def test_wait_waits_for_the_holder_then_proceeds(tmp_path):
    out = tmp_path / "sweep"
    proc = _holder(out)
    told: list[str] = []
    entered = threading.Event()

    def second() -> None:
        with waiting(True, told.append), output_lock(out):
            entered.set()

    thread = threading.Thread(target=second)
    thread.start()
    try:
        _until(lambda: told)  # it is waiting ...
        assert told == [f"waiting: another process (PID {proc.pid}) is writing {out}"]
        assert not entered.is_set()  # ... and has not entered while the holder is alive
    finally:
        proc.communicate("\n", timeout=30)  # the holder finishes
    thread.join(timeout=30)
    assert entered.is_set()


def test_reentrant_in_one_thread_exclusive_between_threads(tmp_path):
    out = tmp_path / "report"
    with output_lock(out):
        with output_lock(out):  # the CLI locks OUT, the library function it calls locks it again
            pass
        assert lock_path(out).exists()  # still held by the outer one
        errors: list[BaseException] = []

        def other() -> None:
            try:
                with output_lock(out):
                    pass
            except OutputLocked as exc:
                errors.append(exc)

        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert len(errors) == 1 and "this process" in str(errors[0])
    assert not lock_path(out).exists()


def test_several_outputs_all_or_none(tmp_path):
    a, b = tmp_path / "runs" / "point", tmp_path / "runs" / "pair"
    proc = _holder(b)
    try:
        with pytest.raises(OutputLocked):
            with output_lock(a, b, None):
                pass
        assert not lock_path(a).exists()  # the one it got is given back
    finally:
        proc.communicate("\n", timeout=30)
    with output_lock(a, b):
        assert lock_path(a).exists() and lock_path(b).exists()


def test_decorator_locks_the_named_argument_sync_and_async(tmp_path):
    import asyncio

    seen = []

    @locked("out", lambda args: args["extra"])
    def write(out: Path, extra: Path | None = None) -> str:
        seen.append((lock_path(out).exists(), extra is None or lock_path(extra).exists()))
        return "ok"

    @locked("out")
    async def write_async(out: Path) -> str:
        seen.append((lock_path(out).exists(), True))
        return "ok"

    assert write(tmp_path / "a") == "ok" and write(tmp_path / "a", tmp_path / "b") == "ok"
    assert asyncio.run(write_async(tmp_path / "c")) == "ok"
    assert seen == [(True, True)] * 3
    assert not any(p.name.endswith(".lock") for p in tmp_path.iterdir())

    proc = _holder(tmp_path / "a")
    try:
        with pytest.raises(OutputLocked):
            write(tmp_path / "a")
    finally:
        proc.communicate("\n", timeout=30)


def test_pause_hook_signals_and_waits(tmp_path, monkeypatch):
    gate = tmp_path / "go"
    monkeypatch.setenv(PAUSE_ENV, str(gate))
    done = threading.Event()

    def hold() -> None:
        with output_lock(tmp_path / "out"):
            done.set()

    t = threading.Thread(target=hold)
    t.start()
    _until(lambda: Path(str(gate) + ".held").exists())
    assert not done.is_set()
    gate.touch()
    t.join(timeout=30)
    assert done.is_set()


def test_an_output_whose_parent_is_read_only_is_locked_in_the_home(tmp_path, monkeypatch):
    """`--out /mnt/disk` (a writable folder in a read-only one): the lock goes to
    $PERRECBENCH_HOME/locks, still one per output."""
    parent = tmp_path / "ro"
    out = parent / "disk"
    out.mkdir(parents=True)
    real_access = os.access
    # read-only for this test's process (chmod would not stop root)
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != parent and real_access(p, mode))
    monkeypatch.setenv("PERRECBENCH_HOME", str(tmp_path / "home"))
    path = lock_path(out)
    assert path.parent == tmp_path / "home" / "locks" and path == lock_path(str(out) + "/")
    assert path != lock_path(parent / "other")
    with output_lock(out):
        assert path.read_text().strip() == str(os.getpid())
        assert not any(p.name.endswith(".lock") for p in parent.iterdir())
    assert not path.exists()
