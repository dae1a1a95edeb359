"""The `perrecbench` process as a whole: a run with HTTP helper processes writes every
file completely and leaves no process behind, also when it fails early."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from helpers.tiny_bench import make_tiny_bench
from servers.fake_openai import FakeOpenAI

from perrecbench.models.llm.providers.openai.pool import WORKER_MODULE
from perrecbench.run.rundir import RunDir

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return make_tiny_bench(tmp_path_factory.mktemp("bench") / "tiny")


def _marked(marker: str) -> list[int]:
    """Processes whose environment carries `marker` (a runner and its helpers)."""
    found = []
    for env in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in env.read_bytes():
                found.append(int(env.parent.name))
        except OSError:
            continue
    return [p for p in found if p != os.getpid()]


def _cli(args, marker, home):
    """Run the CLI; output goes to files, not pipes, so this returns when the runner
    exits even if a helper (which inherits stderr) were still running."""
    env = {**os.environ, "PRB_TEST_MARK": marker, "PERRECBENCH_HOME": str(home)}
    env.pop("PYTHONUNBUFFERED", None)  # output to a file is block-buffered: it must be flushed at exit
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "out.txt", "w+") as out, open(home / "err.txt", "w+") as err:
        proc = subprocess.run([sys.executable, "-m", "perrecbench", *args], env=env, cwd=REPO,
                              stdout=out, stderr=err, timeout=120)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), err.read())


def _wait_gone(marker: str, timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := _marked(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc to find leftover processes")
def test_a_run_process_with_a_helper_writes_everything_and_leaves_nothing(bench, tmp_path):
    """The whole `perrecbench run` process with an HTTP helper: every file complete, every
    line printed, and no process behind once it exits."""
    marker = f"prb-{uuid.uuid4().hex}"
    with FakeOpenAI() as srv:
        out = tmp_path / "run"
        args = ["run", "--bench", str(bench), "--model", "openai/fake", "--method", "point,pair,list",
                "--out", str(out), "--base-url", srv.url, "--max-concurrency", "32", "--no-progress",
                "--option", "http_workers=1"]
        res = _cli(args, marker, tmp_path / "home")
        assert res.returncode == 0, res.stdout + res.stderr
        printed = res.stdout + res.stderr
        assert "done:" in printed and printed.count("ok, 0 failed") == 3, printed
        # what answering cost: 1 call per listwise question, more per pairwise, pairs checked
        assert "of 12 questions; 1.0 calls/question" in printed
        assert "0.0% of pairs inconsistent" in printed
        sent = srv.stats()["requests"]
    assert not _wait_gone(marker, timeout=0.3), "a helper outlived its runner"
    ok = 0
    for method in ("point", "pair", "list"):
        preds = RunDir(out / method).read_predictions()
        assert len(preds) == 12 and all(r.prediction.ok for r in preds)
        calls = [json.loads(line) for line in (out / method / "calls.jsonl").read_text().splitlines()]
        ok += sum(c["status"] == "ok" for c in calls)
    assert ok == sent > 0
    # the response cache was flushed and closed: a second run asks nothing
    with FakeOpenAI() as srv:
        again = _cli([*args[:8], str(tmp_path / "again"), *args[9:]], marker, tmp_path / "home")
        assert again.returncode == 0, again.stdout + again.stderr
        assert srv.stats()["requests"] == 0


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc to find leftover processes")
def test_a_run_that_fails_after_its_helper_started_leaves_no_process(bench, tmp_path):
    """The helper starts when the model is checked; a run that then stops on an error
    (here: the output directory holds another model's run) must not leave it behind."""
    marker = f"prb-{uuid.uuid4().hex}"
    other = tmp_path / "o"
    res = _cli(["run", "--bench", str(bench), "--model", "baseline/bias", "--method", "list", "--out", str(other),
                "--no-progress"], marker, tmp_path / "home")
    assert res.returncode == 0, res.stderr
    res = _cli(["run", "--bench", str(bench), "--model", "openai/m", "--method", "list", "--out", str(other),
                "--base-url", "http://127.0.0.1:9/v1", "--option", "http_workers=1"], marker, tmp_path / "home")
    assert res.returncode != 0 and "already holds a different run" in res.stderr
    assert "Traceback" not in res.stderr
    assert not _wait_gone(marker, timeout=5), "the helper outlived a failed run"


def test_a_worker_without_the_sdk_exits_quietly(tmp_path):
    """A helper whose SDK turns out missing prints nothing (the runner's own check says
    what to install) and exits."""
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "openai.py").write_text("raise ImportError('no openai here')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim), str(REPO / "src")])}
    res = subprocess.run([sys.executable, "-m", WORKER_MODULE], env=env, input=b"",
                         capture_output=True, timeout=60)
    assert res.returncode == 0 and res.stderr == b"", res.stderr.decode()
