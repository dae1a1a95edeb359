"""Two `perrecbench` processes never share an output by accident (issue 14 §2).

Each test runs REAL processes. The overlap is forced, not hoped for: the first
process is started with `PERRECBENCH_TEST_PAUSE_AFTER_LOCK=<gate>`, so once it holds
its output's lock it writes `<gate>.held` and waits until `<gate>` exists; the second
process starts only after that, and the first one goes on only when the test says so.
(On code without the lock the first process never pauses, so these tests fail every
time, not 3 times in 25.)"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.cli import invoke
from helpers.tiny_bench import make_tiny_bench
from servers.fake_openai import FakeOpenAI
from typer.testing import CliRunner

from perrecbench.cli.main import app
from perrecbench.errors import OutputLocked
from perrecbench.locking import PAUSE_ENV, lock_path, output_lock
from perrecbench.run.rundir import RunDir

REPO = Path(__file__).resolve().parents[2]
SMALL_BUILD = ["--source", "synthetic", "--option", "n_users=150", "--option", "n_items=80",
               "--option", "reviews_per_user=25", "--n-items", "4", "--n-heldout", "2", "--max-train", "4",
               "--no-progress"]


class Proc:
    """`python -m perrecbench ARGS` in the background; output goes to files, read any time."""

    def __init__(self, tmp: Path, name: str, args: list[str], gate: Path | None = None):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
        env.pop(PAUSE_ENV, None)
        if gate is not None:
            env[PAUSE_ENV] = str(gate)
        self.out, self.err = tmp / f"{name}.out", tmp / f"{name}.err"
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "perrecbench", *args], env=env, cwd=tmp,
                                         stdout=out, stderr=err)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return self.out.read_text() + self.err.read_text()

    def finish(self, timeout: float = 240) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _until(cond, what: str, timeout: float = 180) -> None:
    """Wait for a fact (a file, a line of output); fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _hold(first: Proc, gate: Path) -> None:
    """Wait until `first` holds its lock and pauses (or fail at once if it finished without)."""
    held = Path(str(gate) + ".held")
    _until(lambda: held.exists() or first.proc.poll() is not None, "the first process to take its lock")
    assert held.exists(), "the first process never paused holding a lock:\n" + first.text()
    assert held.read_text().strip() == str(first.pid)


def _refused(second: Proc, first: Proc, out: Path) -> None:
    """The second process stopped with one line naming the first one's PID."""
    assert second.finish() == OutputLocked.exit_code, second.text()
    err = second.err.read_text()
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert f"another process (PID {first.pid}) is writing {out}" in " ".join(err.split())


def test_two_builds_into_one_out(tmp_path):
    """Today: both say "built" and the benchmark mixes seeds, or none is left. Now: the
    second build is refused (or waits with --wait); OUT is always one whole benchmark."""
    out = tmp_path / "bench"
    first_build = invoke(["build", *SMALL_BUILD, "--seed", "1", "--out", str(out)])
    assert first_build.exit_code == 0, first_build.output
    before = (out / "manifest.json").read_bytes()

    gate = tmp_path / "go"
    first = Proc(tmp_path, "first", ["build", *SMALL_BUILD, "--seed", "2", "--out", str(out)], gate)
    waiter = None
    try:
        _hold(first, gate)
        second = Proc(tmp_path, "second", ["build", *SMALL_BUILD, "--seed", "3", "--out", str(out)])
        _refused(second, first, out)
        assert (out / "manifest.json").read_bytes() == before  # the earlier benchmark is untouched
        assert not (tmp_path / "bench.building").exists()

        waiter = Proc(tmp_path, "waiter", ["build", *SMALL_BUILD, "--seed", "4", "--out", str(out), "--wait"])
        _until(lambda: "waiting:" in waiter.err.read_text() or waiter.proc.poll() is not None, "--wait to wait")
        assert f"waiting: another process (PID {first.pid}) is writing {out}" in " ".join(
            waiter.err.read_text().split()), waiter.text()
        assert waiter.proc.poll() is None  # still waiting while the first build holds OUT
        gate.touch()  # let the first build go on
        assert first.finish() == 0, first.text()
        assert waiter.finish() == 0, waiter.text()
    finally:
        gate.touch()
        first.kill()
        if waiter is not None:
            waiter.kill()
    assert "built" in first.text() and "built" in waiter.text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["params"]["seed"] == 4  # the waiting build ran after the first, whole
    from perrecbench.bench import Benchmark

    bench = Benchmark(out)
    assert bench.manifest.counts.questions["test"]
    # nothing but the benchmark is left beside it: no staging folder, no lock file
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".", "bench"))) == ["bench"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_bench(tmp_path_factory.mktemp("bench") / "tiny")


def test_two_runs_into_one_run_directory(tiny, tmp_path):
    """Today: every question asked and written twice, every request paid twice. Now: the
    second run is refused; with --wait it waits, then finds everything answered and asks
    nothing."""
    out = tmp_path / "runs" / "fake-list"
    gate = tmp_path / "go"
    with FakeOpenAI() as srv:
        args = ["run", "--bench", str(tiny), "--model", "openai/fake", "--method", "list", "--out", str(out),
                "--base-url", srv.url, "--no-cache", "--no-progress", "--option", "http_workers=1"]
        first = Proc(tmp_path, "first", args, gate)
        waiter = None
        try:
            _hold(first, gate)
            assert srv.stats()["requests"] == 0  # held before any work
            second = Proc(tmp_path, "second", args)
            _refused(second, first, out)
            waiter = Proc(tmp_path, "waiter", [*args, "--wait"])
            _until(lambda: "waiting:" in waiter.err.read_text() or waiter.proc.poll() is not None,
                   "--wait to wait")
            assert waiter.proc.poll() is None, waiter.text()
            gate.touch()
            assert first.finish() == 0, first.text()
            assert waiter.finish() == 0, waiter.text()
        finally:
            gate.touch()
            first.kill()
            if waiter is not None:
                waiter.kill()
        sent = srv.stats()["requests"]
    preds = RunDir(out).read_predictions()
    ids = [r.prediction.question_id for r in preds]
    assert len(ids) == len(set(ids)) == 12  # each question written once
    assert sent == 12  # each request paid once (listwise: one call per question)
    assert "0 answered now" in waiter.text() and "12 already done" in waiter.text()
    assert not lock_path(out).exists()


def test_lock_files_are_never_taken_for_runs(tiny, tmp_path, monkeypatch):
    """`leaderboard runs/*` and `score runs` while a run holds its lock, and with a lock
    file a killed process left behind: the lock files are neither listed nor loaded."""
    runs = tmp_path / "runs"
    done = invoke(["run", "--bench", str(tiny), "--model", "baseline/bias", "--method", "list",
                   "--out", str(runs / "bias-list"), "--no-progress"])
    assert done.exit_code == 0, done.output
    lock_path(runs / "crashed").write_text("999999999\n")  # what a kill -9 leaves
    monkeypatch.chdir(tmp_path)
    with output_lock(runs / "busy"):  # a run in progress beside them
        assert sorted(p.name for p in runs.iterdir()) == [".busy.lock", ".crashed.lock", "bias-list"]
        assert glob.glob("runs/*") == ["runs/bias-list"]  # what the shell passes for runs/*
        board = invoke(["leaderboard", *glob.glob("runs/*")])
        assert board.exit_code == 0, board.output
        folder = invoke(["score", "runs"])  # a folder of runs: searched at any depth
        assert folder.exit_code == 0, folder.output
        assert "baseline/bias" in board.output and "baseline/bias" in folder.output
        assert ".lock" not in board.output + folder.output


HOLDER = ("import sys\nfrom perrecbench.locking import output_lock\nwith output_lock(sys.argv[1]):\n"
          "    print('held', flush=True)\n    sys.stdin.readline()\n")


def _writers(tiny: Path, out: Path, runs: Path) -> dict[str, tuple[list[str], Path]]:
    """Every command that writes an output: (its arguments, the output it locks)."""
    from perrecbench.bench import Benchmark
    from perrecbench.prompts.profiles import OFFLINE, profile_path

    b, o = str(tiny), str(out)
    return {
        "build": (["build", *SMALL_BUILD, "--out", o], out),
        "run": (["run", "--bench", b, "--model", "baseline/random", "--method", "list", "--out", o,
                 "--no-progress"], out),
        "run-several": (["run", "--bench", b, "--model", "baseline/random", "--method", "point,list", "--out", o,
                         "--no-progress"], out / "list"),
        "sweep": (["sweep", "--bench", b, "--model", "baseline/random", "--method", "list", "--out", o,
                   "--vary", "seed=1,2", "--no-progress"], out),
        "report": (["report", str(runs), "--out", o, "--no-progress"], out),
        "sft-data": (["sft-data", "--bench", b, "--format", "point", "--out", o], out),
        "train": (["train", "--out", o, "--set", "model=no-org/no-model", "--set", "dataset=./no-data"], out),
        "merge": (["merge", "a1", "a2", "--method", "naive", "--out", o, "--full-model", o + "-full"],
                  Path(o + "-full")),
        "profiles": (["profiles", "--bench", b, "--offline"], profile_path(Benchmark(tiny), OFFLINE)),
        "import-release": (["import-release", "--data", str(tiny), "--out", o], out),
        "import-release-results": (["import-release-results", "--bench", b, "--pred", "p.json", "--method",
                                    "list", "--level", "easy", "--model", "x", "--out", o], out),
        "export-release": (["export-release", "--bench", b, "--out", o], out),
        "demo": (["demo", "--out", o], out),
        "correlate": (["correlate", str(runs), "--out", o], out),
        "breakdown": (["breakdown", str(runs), "--by", "level", "--out", o], out),
    }


@pytest.mark.parametrize("command", ["build", "run", "run-several", "sweep", "report", "sft-data", "train",
                                     "merge", "profiles", "import-release", "import-release-results",
                                     "export-release", "demo", "correlate", "breakdown"])
def test_every_writer_locks_its_output_before_any_work(command, tiny, tmp_path):
    """Whatever the command, a held output stops it at once, in one line naming the
    holder, before it writes (or even checks) anything."""
    runs = tmp_path / "runs"
    done = invoke(["run", "--bench", str(tiny), "--model", "baseline/bias", "--method", "list",
                   "--out", str(runs / "bias"), "--no-progress"])
    assert done.exit_code == 0, done.output
    out = tmp_path / "out"
    args, locked_path = _writers(tiny, out, runs)[command]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(locked_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        before = sorted(p.name for p in tiny.rglob("*") if p.suffix != ".lock")
        res = CliRunner().invoke(app, args)  # in-process: the error itself (main() prints it in one line)
    finally:
        holder.communicate("\n", timeout=30)
    assert isinstance(res.exception, OutputLocked), (res.output, res.exception)
    assert res.exception.pid == holder.pid and Path(res.exception.out) == locked_path
    assert not out.exists() or not any(out.iterdir())  # nothing was written
    assert sorted(p.name for p in tiny.rglob("*") if p.suffix != ".lock") == before
