"""Paid answers are never lost, damaged state is never fatal, no key is ever printed
(issue 14, sections 3 and 4): real `perrecbench` processes against a real loopback server."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.cli import invoke
from helpers.cli import predictions as _preds
from helpers.cli import run_args as _args
from helpers.tiny_bench import make_tiny_bench
from servers.fake_openai import FakeOpenAI

from perrecbench.errors import BenchmarkError
from perrecbench.models.llm.cache import ResponseCache

REPO = Path(__file__).resolve().parents[2]
QUESTIONS = 12  # the tiny benchmark: 4 questions per level
POINT_REQUESTS = 36  # 4 x (2 + 3 + 4) members


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return make_tiny_bench(tmp_path_factory.mktemp("bench") / "tiny")


@pytest.fixture
def server():
    with FakeOpenAI() as srv:
        yield srv


def _cli(args, home, fsize=None, env=None):
    """`perrecbench ARGS` in a child process; with `fsize`, under a file size limit
    (RLIMIT_FSIZE, SIGXFSZ ignored): a write past it fails with EFBIG, as on a full disk."""

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    full_env = {**os.environ, "PERRECBENCH_HOME": str(home), "PYTHONPATH": str(REPO / "src"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "perrecbench", *args], env=full_env, cwd=REPO, text=True,
                          capture_output=True, timeout=180, preexec_fn=limit)


def _paid(server):
    """Distinct requests the server answered with 200."""
    return {e["request"] for e in server.stats()["log"] if e["status"] == 200}


# -- a full disk --------------------------------------------------------------------------


@pytest.mark.parametrize("where, extra, fsize, lost", [
    # the cache fills first (each answer commits pages to its log): at most the 2 requests
    # in flight when it filled are paid again
    ("cache.sqlite", [], 120_000, 2),
    # the call log (prompts in it) fills first; without a cache the answers of the (at most
    # 4) questions left unfinished are lost too: up to 3 members each
    ("calls.jsonl", ["--no-cache", "--log-prompts"], 12_000, 2 + 4 * 3),
])
def test_a_full_disk_stops_the_run_and_loses_no_paid_answer(bench, server, tmp_path, where, extra, fsize, lost):
    server.configure(latency=0.03)  # the run takes several of the runner's write batches (0.2 s)
    home, out = tmp_path / "home", tmp_path / "run"
    args = _args(bench, out, "point", server.url, "--max-concurrency", "2", *extra)
    res = _cli(args, home, fsize=fsize)
    assert res.returncode == 6, res.stdout + res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and where in errors[0] and "device mounted at" in errors[0], res.stderr
    assert "Traceback" not in res.stderr and "Exception in callback" not in res.stderr, res.stderr
    first = _paid(server)
    assert 0 < len(first) < POINT_REQUESTS  # it stopped asking
    done = _preds(out)
    assert done and all(p.ok for p in done.values())  # answers before the failure are kept, none recorded as bugs
    # resume with room: only what was not kept is asked again
    server.configure(reset=True, latency=0.0)
    res = _cli(args, home)
    assert res.returncode == 0, res.stdout + res.stderr
    assert len(_preds(out)) == QUESTIONS and all(p.ok for p in _preds(out).values())
    assert len(_paid(server) & first) <= lost


def test_a_full_disk_under_predictions_leaves_a_run_that_resumes(bench, tmp_path):
    """predictions.jsonl itself cannot grow: one line naming it, and the torn last line is
    cut off when the run resumes with room."""
    home, out = tmp_path / "home", tmp_path / "run"
    args = ["run", "--bench", str(bench), "--model", "baseline/random", "--method", "point", "--out", str(out),
            "--no-progress", "--max-concurrency", "1"]
    res = _cli(args, home, fsize=2_500)  # the manifest fits, not every prediction
    assert res.returncode == 6, res.stdout + res.stderr
    assert "predictions.jsonl: file size limit reached" in res.stderr and "Traceback" not in res.stderr
    res = _cli(args, home)
    assert res.returncode == 0, res.stdout + res.stderr
    assert len(_preds(out)) == QUESTIONS


# -- a damaged cache ---------------------------------------------------------------------


def _damage(path: Path, share: float = 1 / 3) -> None:
    """Garbage over a run of pages in the middle of the file (its log checkpointed first)."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    pages = path.stat().st_size // 4096
    first = max(2, pages // 3)
    with open(path, "r+b") as fh:
        for page in range(first, first + max(2, int(pages * share))):
            fh.seek(page * 4096)
            fh.write(os.urandom(4096))


_HOLDER = """
import json, sys
from perrecbench.models.llm.cache import ResponseCache
cache = ResponseCache(sys.argv[1])
print("open", flush=True)
sys.stdin.readline()  # the barrier: the file was damaged and repaired meanwhile
cache.put("written-by-the-other", "openai", "fake", {"text": "still works"})
print(json.dumps(cache.get("written-by-the-other")), flush=True)
cache.close()
"""


class _Holder:
    """Another process that has the cache open across the repair (steps forced by a pipe)."""

    def __init__(self, path: Path):
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        self.proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(path)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout.readline().strip() == "open"

    def write_after_repair(self) -> dict:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        assert self.proc.wait(timeout=60) == 0
        return answer


@pytest.mark.parametrize("header", [False, True])
def test_a_damaged_cache_is_set_aside_and_rebuilt_while_another_process_has_it_open(
        bench, server, tmp_path, _private_home, header):
    res = invoke(_args(bench, tmp_path / "a", "point", server.url))
    assert res.exit_code == 0, res.output
    path = _private_home / "cache.sqlite"
    first = server.stats()["requests"]
    other = _Holder(path)
    _damage(path)
    if header:  # the first page too: SQLite cannot even open it, the file is replaced
        with open(path, "r+b") as fh:
            fh.write(b"\xff" * 4096)
    server.configure(reset=True)
    res = invoke(_args(bench, tmp_path / "b", "point", server.url))
    assert res.exit_code == 0, res.output
    assert "was damaged" in res.output and "Traceback" not in res.output
    preds = _preds(tmp_path / "b")
    assert len(preds) == QUESTIONS and all(p.ok for p in preds.values())  # no `internal` failures
    assert server.stats()["requests"] < first or header  # the readable answers were kept
    assert list(path.parent.glob("cache.sqlite.damaged-*"))
    assert other.write_after_repair() == {"text": "still works"}  # it writes into the repaired file
    check = ResponseCache(path)
    try:
        assert check.get("written-by-the-other") == {"text": "still works"}
        assert check._db.execute("PRAGMA quick_check").fetchall() == [("ok",)]
        assert check.stats()["entries"] >= POINT_REQUESTS
    finally:
        check.close()
    server.configure(reset=True)
    res = invoke(_args(bench, tmp_path / "c", "point", server.url))
    assert res.exit_code == 0 and server.stats()["requests"] == 0  # everything is cached again


def test_cache_stats_and_clear_work_on_a_damaged_cache(bench, server, tmp_path, _private_home):
    res = invoke(_args(bench, tmp_path / "a", "point", server.url))
    assert res.exit_code == 0, res.output
    path = _private_home / "cache.sqlite"
    _damage(path)
    res = invoke(["cache", "stats", "--path", str(path)])
    assert res.exit_code == 0 and "responses" in res.output and "was damaged" in res.output, res.output
    _damage(path, share=2 / 3)
    res = invoke(["cache", "clear", "--yes", "--path", str(path)])
    assert res.exit_code == 0 and "deleted" in res.output, res.output
    res = invoke(["cache", "stats", "--json", "--path", str(path)])
    assert json.loads(res.stdout[res.stdout.index("{"):])["entries"] == 0


def test_a_cache_whose_header_is_garbage_is_replaced(tmp_path):
    path = tmp_path / "cache.sqlite"
    cache = ResponseCache(path)
    cache.put("k", "openai", "fake", {"text": "a"})
    cache.close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    with open(path, "r+b") as fh:
        fh.write(b"\xff" * 4096)
    cache = ResponseCache(path)
    try:
        assert cache.get("k") is None and cache.notes
        cache.put("k2", "openai", "fake", {"text": "b"})
        assert cache.get("k2") == {"text": "b"}
    finally:
        cache.close()


# -- predictions without a manifest -------------------------------------------------------


def test_predictions_without_a_manifest_are_never_adopted(bench, tmp_path):
    out = tmp_path / "r"
    res = invoke(["run", "--bench", str(bench), "--model", "baseline/random", "--method", "point", "--out", str(out),
                  "--no-progress"])
    assert res.exit_code == 0, res.output
    (out / "manifest.json").unlink()
    before = (out / "predictions.jsonl").read_bytes()
    with pytest.raises(BenchmarkError, match=r"predictions\.jsonl holds predictions but manifest\.json is missing"):
        invoke(["run", "--bench", str(bench), "--model", "baseline/bias", "--method", "point", "--out", str(out),
                "--no-progress"])
    assert (out / "predictions.jsonl").read_bytes() == before and not (out / "manifest.json").exists()


# -- every question failed ----------------------------------------------------------------


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_a_run_against_a_dead_server_fails_naming_the_cause(bench, tmp_path):
    res = invoke(_args(bench, tmp_path / "d", "list", _dead_url(), "--levels", "easy", "--max-attempts", "1"))
    assert res.exit_code == 5, res.output
    assert "most common failure: connection (4): " in res.output
    assert "not one question got an answer" in res.output


def test_a_rejected_key_fails_the_run_and_a_finished_run_still_succeeds(bench, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-1234567")
    with FakeOpenAI(expect_key="sk-right-7654321") as srv:
        res = invoke(_args(bench, tmp_path / "k", "point", srv.url, "--levels", "easy"))
        assert res.exit_code == 5, res.output
        assert "most common failure: auth (4): " in res.output and "Incorrect API key" in res.output
        monkeypatch.setenv("OPENAI_API_KEY", "sk-right-7654321")
        res = invoke(_args(bench, tmp_path / "k", "point", srv.url, "--levels", "easy"))
        assert res.exit_code == 0, res.output
        res = invoke(_args(bench, tmp_path / "k", "point", srv.url, "--levels", "easy"))
        assert res.exit_code == 0 and "4 already done" in res.output


def test_a_model_whose_every_answer_is_unreadable_is_a_result_not_a_failed_run(bench, tmp_path):
    """The model answered, in text that holds no answer: scored as failed, exit 0 (a small
    model on a hard prompt); only a run the model never answered fails."""
    with FakeOpenAI(faults=[{"kind": "malformed", "first_k": 1000}]) as srv:
        res = invoke(_args(bench, tmp_path / "m", "point", srv.url, "--levels", "easy"))
    assert res.exit_code == 0, res.output
    assert "most common failure: no_answer" in res.output and "not one question" not in res.output


def test_a_sweep_in_which_every_question_failed_exits_non_zero(bench, tmp_path):
    res = invoke(["sweep", "--bench", str(bench), "--model", "openai/fake", "--base-url", _dead_url(),
                  "--method", "list", "--vary", "k=1", "--levels", "easy", "--max-attempts", "1",
                  "--out", str(tmp_path / "s"), "--no-progress", "--resamples", "20"])
    assert res.exit_code == 5, res.output
    assert "most common failure: connection" in res.output


# -- no key is ever printed ---------------------------------------------------------------

SECRET = "sk-live-ECHOED-9c1e4f7a2b"


def _commands(bench, url, tmp_path):
    """Every command that talks to a model (each creates an LLM client)."""
    return {
        "run": _args(bench, tmp_path / "run", "point", url, "--levels", "easy", "--limit", "2"),
        "sweep": ["sweep", "--bench", str(bench), "--model", "openai/fake", "--base-url", url, "--method", "list",
                  "--vary", "k=1", "--levels", "easy", "--limit", "2", "--out", str(tmp_path / "sweep"),
                  "--no-progress", "--resamples", "20"],
        "profiles": ["profiles", "--bench", str(bench), "--model", "openai/fake", "--base-url", url,
                     "--levels", "easy"],
    }


def test_no_command_prints_or_records_a_key_the_server_echoes(bench, tmp_path):
    """The server quotes the Authorization header in its 401 body: the key reaches no
    output, log, cache, crash file or result file, whichever command talked to it."""
    work = tmp_path / "bench"
    import shutil

    shutil.copytree(bench, work)  # profiles write into the benchmark
    with FakeOpenAI() as srv:
        srv.configure(faults=[{"kind": "status", "status": 401, "echo_auth": True, "times": -1}])
        home = tmp_path / "home"
        for name, args in _commands(work, srv.url, tmp_path).items():
            res = _cli(args, home, env={"OPENAI_API_KEY": SECRET})
            text = res.stdout + res.stderr
            assert "ECHOED" not in text, (name, text)
            assert "you sent Bearer ***" in text, (name, text)  # the message itself is shown, masked
            assert srv.stats()["by_status"].get("401"), name
        assert "sk-live" not in text and "Traceback" not in text
    for root in (tmp_path,):
        for p in root.rglob("*"):
            if p.is_file():
                assert b"ECHOED" not in p.read_bytes(), p


def test_redact_masks_a_quoted_authorization_header_whatever_the_key_looks_like():
    from perrecbench.redaction import redact

    assert redact("injected 401 (you sent Bearer my.custom-token_42)") == "injected 401 (you sent Bearer ***)"
    assert redact('{"x-api-key": "abc123def"}') == '{"x-api-key": "***"}'
    assert redact("Bearer sk-proj-abcdef123") == "Bearer ***"
