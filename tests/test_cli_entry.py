"""The `perrecbench` process: the HTTP helper started before the CLI's imports, and the
exit without interpreter teardown after a run."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from servers.fake_openai import FakeOpenAI
from servers.tiny_bench import make_tiny_bench

from perrecbench.cli.entry import wants_http_worker
from perrecbench.models.llm import prestart
from perrecbench.models.llm.config import GenerateConfig
from perrecbench.models.llm.providers.openai_api import OpenAIAPI
from perrecbench.run.rundir import RunDir

REPO = Path(__file__).resolve().parents[1]
MULTI_CORE = (os.cpu_count() or 1) >= 2


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return make_tiny_bench(tmp_path_factory.mktemp("bench") / "tiny")


RUN = ["run", "--bench", "b", "--method", "point", "--out", "o"]


@pytest.mark.parametrize(("argv", "wanted"), [
    (RUN + ["--model", "openai/m", "--max-concurrency", "32"], MULTI_CORE),
    (RUN + ["--model=openai/m", "--max-concurrency=16"], MULTI_CORE),
    (RUN + ["-m", "openai/m", "--max-concurrency", "15"], False),  # below WORKER_CONCURRENCY
    (RUN + ["--model", "openai/m"], False),  # the default concurrency (8)
    (RUN + ["--model", "openai/m", "--option", "http_workers=1"], True),
    (RUN + ["--model", "openai/m", "--max-concurrency", "64", "--option", "http_workers=0"], False),
    (RUN + ["--model", "openai/m", "--max-concurrency", "64", "--option=http_workers=0"], False),
    (RUN + ["--model", "anthropic/m", "--max-concurrency", "64"], False),
    (RUN + ["--model", "baseline/bias", "--max-concurrency", "64"], False),
    (RUN + ["--model", "openai/m", "--max-concurrency", "64", "--dry-run"], False),
    (RUN + ["--model", "openai/m", "--max-concurrency", "lots"], False),  # the CLI reports it
    (["score", "--model", "openai/m", "--max-concurrency", "64"], False),
    ([], False),
])
def test_the_helper_is_started_early_only_for_runs_that_use_it(argv, wanted):
    assert wants_http_worker(argv) is wanted


def test_a_pool_adopts_the_prestarted_worker_and_it_answers():
    with FakeOpenAI() as srv:
        prestart.prestart()
        spare = prestart._spares[0]
        api = OpenAIAPI("m", [srv.url], http_workers=1)

        async def main():
            try:
                msgs = [{"role": "user", "content": 'Answer as JSON {"predicted_rating": x}'}]
                out = await asyncio.wait_for(api.generate(msgs, GenerateConfig(max_tokens=20), None), 30)
                assert "predicted_rating" in out.text
                (worker,) = api._workers._workers
                assert worker.proc is spare
                assert prestart._spares == []  # taken, not shared
            finally:
                await api.aclose()

        asyncio.run(main())
        assert spare.poll() is not None  # the pool stops what it adopted


def test_an_unadopted_spare_is_stopped_and_a_dead_one_is_not_adopted():
    prestart.prestart()
    spare = prestart._spares[0]
    prestart.stop_spares()
    assert spare.poll() is not None and prestart._spares == []
    prestart.prestart()
    dead = prestart._spares[0]
    dead.kill()
    dead.wait()
    assert prestart.take_spare() is None


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
def test_a_run_process_with_an_early_helper_writes_everything_and_leaves_nothing(bench, tmp_path):
    """The whole `perrecbench run` process: the helper started before the imports serves
    the run; the exit that skips teardown still leaves every file complete and every
    line printed, and no process behind."""
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
def test_a_run_that_fails_early_stops_the_helper_it_started(tmp_path):
    marker = f"prb-{uuid.uuid4().hex}"
    res = _cli(["run", "--bench", str(tmp_path / "missing"), "--model", "openai/m", "--method", "point",
                "--out", str(tmp_path / "o"), "--base-url", "http://127.0.0.1:9/v1", "--max-concurrency", "32",
                "--option", "http_workers=1"], marker, tmp_path / "home")
    assert res.returncode != 0 and "error" in res.stderr
    assert "Traceback" not in res.stderr
    assert not _wait_gone(marker, timeout=0.3), "the early helper outlived a failed run"


def test_a_worker_without_the_sdk_exits_quietly(tmp_path):
    """A spare started for a run whose SDK turns out missing prints nothing (the runner's
    own check says what to install) and exits."""
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "openai.py").write_text("raise ImportError('no openai here')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim), str(REPO / "src")])}
    res = subprocess.run([sys.executable, "-m", prestart.WORKER_MODULE], env=env, input=b"",
                         capture_output=True, timeout=60)
    assert res.returncode == 0 and res.stderr == b"", res.stderr.decode()
