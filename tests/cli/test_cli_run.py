"""`perrecbench run` end to end against a real loopback OpenAI-compatible server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.cli import invoke
from helpers.cli import predictions as _preds
from helpers.cli import run_args as _args
from helpers.tiny_bench import make_tiny_bench
from servers.fake_openai import FakeOpenAI

from perrecbench.errors import ConfigError
from perrecbench.run.rundir import RunDir

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return make_tiny_bench(tmp_path_factory.mktemp("bench") / "tiny")


@pytest.fixture
def server():
    with FakeOpenAI() as srv:
        yield srv




def _calls(out):
    """calls.jsonl records; a line torn by kill -9 is skipped."""
    out_ = []
    for line in (Path(out) / "calls.jsonl").read_text().splitlines():
        try:
            out_.append(json.loads(line))
        except ValueError:
            continue
    return out_


def _chat_requests(server):
    return server.stats()["requests"]


@pytest.mark.parametrize("method", ["point", "pair", "list"])
def test_each_method_end_to_end_then_fully_cached(bench, server, tmp_path, method):
    res = invoke(_args(bench, tmp_path / "a", method, server.url))
    assert res.exit_code == 0, res.output
    preds = _preds(tmp_path / "a")
    assert len(preds) == 12 and all(p.ok for p in preds.values())
    for p in preds.values():
        assert sorted(p.order) == list(range(len(p.order)))
    first = _chat_requests(server)
    assert first == sum(p.n_calls for p in preds.values())
    # a fresh run directory with the same cache: zero requests, same answers
    res = invoke(_args(bench, tmp_path / "b", method, server.url))
    assert res.exit_code == 0
    assert _chat_requests(server) == first
    again = _preds(tmp_path / "b")
    assert {q: p.order for q, p in again.items()} == {q: p.order for q, p in preds.items()}
    assert {c["status"] for c in _calls(tmp_path / "b")} == {"cached"}
    assert "req 0" in res.output and "12 ok, 0 failed" in res.output


def test_rerun_of_a_finished_run_skips_everything(bench, server, tmp_path):
    invoke(_args(bench, tmp_path / "r", "list", server.url))
    n = _chat_requests(server)
    res = invoke(_args(bench, tmp_path / "r", "list", server.url, "--no-cache"))
    assert _chat_requests(server) == n and "12 already done" in res.output


def test_api_key_is_sent_but_never_stored(bench, server, tmp_path, monkeypatch, _private_home):
    secret = "sk-test-SECRET-7f3a9c1e"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    server.configure(expect_key=secret, faults=[{"kind": "status", "status": 500, "times": 2}])
    res = invoke(_args(bench, tmp_path / "k", "point", server.url, "--log-prompts"))
    assert res.exit_code == 0 and all(p.ok for p in _preds(tmp_path / "k").values())
    stored = [p for p in list((tmp_path / "k").rglob("*")) + list(_private_home.rglob("*")) if p.is_file()]
    assert any(p.name.startswith("cache.sqlite") for p in stored)
    for p in stored:
        assert secret.encode() not in p.read_bytes(), p
        assert b"SECRET-7f3a" not in p.read_bytes(), p


def test_a_key_echoed_by_the_server_reaches_no_file(bench, server, tmp_path, monkeypatch, _private_home):
    """A server that quotes the Authorization header in its error (some proxies do): the
    failure is recorded, with the key masked, in the predictions and the call log."""
    secret = "sk-test-ECHOED-41d2b8"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    server.configure(faults=[{"kind": "status", "status": 401, "echo_auth": True, "times": -1}])
    out = tmp_path / "echo"
    res = invoke(_args(bench, out, "point", server.url, "--levels", "easy", "--limit", "1"))
    assert res.exit_code == 5  # not one question got an answer
    (pred,) = _preds(out).values()
    assert pred.failure == "auth" and "you sent Bearer ***" in pred.failure_detail
    assert "ECHOED" not in res.output
    for p in [p for p in list(out.rglob("*")) + list(_private_home.rglob("*")) if p.is_file()]:
        assert b"ECHOED-41d2b8" not in p.read_bytes(), p


def test_retry_after_is_honoured(bench, server, tmp_path):
    server.configure(faults=[{"kind": "status", "status": 429, "retry_after": "1", "times": 1}])
    res = invoke(_args(bench, tmp_path / "ra", "list", server.url, "--levels", "easy", "--limit", "1"))
    assert res.exit_code == 0
    log = server.stats()["log"]
    assert [e["status"] for e in log] == [429, 200]
    assert log[1]["t"] - log[0]["t"] >= 1.0
    (err,) = [c for c in _calls(tmp_path / "ra") if c["status"] == "error"]
    assert err["category"] == "rate_limit" and err["http_status"] == 429 and err["retry_in_s"] >= 1.0
    assert _preds(tmp_path / "ra")["test-easy-0"].ok


def test_persistent_failures_are_recorded_then_retried_on_rerun(bench, server, tmp_path):
    server.configure(faults=[{"kind": "status", "status": 503, "times": -1}])
    out = tmp_path / "f"
    res = invoke(_args(bench, out, "point", server.url, "--levels", "easy", "--max-attempts", "2"))
    assert res.exit_code == 5  # every question failed: the command fails, naming the cause
    assert "most common failure: server_error (4): " in res.output and "injected 503" in res.output
    preds = _preds(out)
    assert len(preds) == 4 and {p.failure for p in preds.values()} == {"server_error"}
    assert all(p.status == "failed" and p.order is None for p in preds.values())
    assert "server_error 4" in res.output
    errors = [c for c in _calls(out) if c["status"] == "error"]
    assert len(errors) == 2 * 8 and {c["http_status"] for c in errors} == {503}
    server.configure(faults=[])
    res = invoke(_args(bench, out, "point", server.url, "--levels", "easy"))
    assert all(p.ok for p in _preds(out).values()) and "4 ok, 0 failed" in res.output
    assert res.exit_code == 0
    res = invoke(_args(bench, out, "point", server.url, "--levels", "easy"))  # nothing left to ask
    assert res.exit_code == 0 and "4 already done" in res.output


def test_unparsable_answers_retry_then_fail_with_category(bench, server, tmp_path):
    server.configure(faults=[{"kind": "malformed", "first_k": 2}])
    res = invoke(_args(bench, tmp_path / "m1", "list", server.url, "--levels", "medium"))
    assert res.exit_code == 0
    preds = _preds(tmp_path / "m1")
    assert all(p.ok and p.n_calls == 3 and p.n_failed_calls == 2 for p in preds.values())
    notes = [c for c in _calls(tmp_path / "m1") if c["status"] == "parse_failure"]
    assert len(notes) == 8 and {c["category"] for c in notes} == {"no_answer"}
    # a model that never answers in format: failed after the retries, category kept
    server.configure(faults=[{"kind": "malformed", "first_k": 100}])
    invoke(_args(bench, tmp_path / "m2", "list", server.url, "--levels", "hard",
                 "--option", "max_parse_retries=2"))
    preds = _preds(tmp_path / "m2")
    assert all(p.failure == "no_answer" and p.n_calls == 3 for p in preds.values())
    # a rerun does not re-ask answers that did not parse (the same cached replies would come back)
    n_lines, n_requests = len(_calls(tmp_path / "m2")), _chat_requests(server)
    res = invoke(_args(bench, tmp_path / "m2", "list", server.url, "--levels", "hard",
                       "--option", "max_parse_retries=2"))
    assert len(_calls(tmp_path / "m2")) == n_lines and "4 already done" in res.output
    assert "--reask all" in res.output
    # after a parser fix: --reask all re-parses the cached replies, no request sent
    invoke(_args(bench, tmp_path / "m2", "list", server.url, "--levels", "hard",
                 "--option", "max_resamples=2", "--reask", "all"))
    new = _calls(tmp_path / "m2")[n_lines:]
    assert new and {c["status"] for c in new} <= {"cached", "parse_failure"}
    assert _chat_requests(server) == n_requests


def test_timeouts_and_broken_bodies_are_retried(bench, server, tmp_path):
    server.configure(faults=[{"kind": "slow", "delay": 1.5, "times": 1}, {"kind": "garbage", "times": 1},
                             {"kind": "truncated", "times": 1}])
    out = tmp_path / "t"
    res = invoke(_args(bench, out, "point", server.url, "--levels", "easy", "--limit", "2",
                       "--timeout", "0.5", "--max-concurrency", "1"))
    assert res.exit_code == 0
    assert all(p.ok for p in _preds(out).values())
    cats = sorted(c["category"] for c in _calls(out) if c["status"] == "error")
    assert cats == ["bad_response", "connection", "timeout"]


def test_json_mode_and_seed_reach_the_server(bench, server, tmp_path):
    invoke(_args(bench, tmp_path / "j", "list", server.url, "--levels", "easy", "--limit", "1",
                 "--json-mode", "object-schema", "--seed", "11"))
    (entry,) = server.stats()["log"]
    assert entry["seed"] == 11
    assert entry["response_format"]["type"] == "json_object" and "predicted_ranking" in json.dumps(entry)


def test_replicas_from_repeated_base_url(bench, tmp_path):
    with FakeOpenAI(latency=0.01) as a, FakeOpenAI(latency=0.01) as b:
        args = _args(bench, tmp_path / "rep", "point", a.url, "--base-url", b.url, "--levels", "hard")
        assert invoke(args).exit_code == 0
        assert a.stats()["requests"] >= 4 and b.stats()["requests"] >= 4


def test_anthropic_backend_through_the_same_command(bench, server, tmp_path):
    args = _args(bench, tmp_path / "an", "list", server.url.removesuffix("/v1"), "--levels", "easy")
    args[args.index("openai/fake")] = "anthropic/claude-fake"
    assert invoke(args).exit_code == 0
    assert all(p.ok for p in _preds(tmp_path / "an").values())
    assert all(e["system_param"] for e in server.stats()["log"])


def test_dry_run_calls_nothing(bench, server, tmp_path):
    res = invoke(_args(bench, tmp_path / "d", "pair", server.url, "--dry-run", "--samples", "2"))
    assert res.exit_code == 0 and "dry run" in res.output
    assert "2 * 4 * (1 + 3 + 6) * 2" and "160 requests" in res.output
    assert _chat_requests(server) == 0 and not (tmp_path / "d").exists()
    res = invoke(["run", "--bench", str(bench), "--model", "openai/gpt-4o", "--method", "point",
                  "--out", str(tmp_path / "d2"), "--dry-run"])
    assert res.exit_code == 0 and "$" in res.output  # priced, and no key was needed


def test_baselines_use_the_same_command(bench, tmp_path):
    pytest.importorskip("perrecbench.models.baselines")
    res = invoke(["run", "--bench", str(bench), "--model", "baseline/random", "--method", "pair",
                  "--out", str(tmp_path / "base"), "--no-progress"])
    assert res.exit_code == 0 and len(_preds(tmp_path / "base")) == 12
    with pytest.raises(ConfigError, match="--cot"):
        invoke(["run", "--bench", str(bench), "--model", "baseline/random", "--method", "pair",
                "--out", str(tmp_path / "base2"), "--cot"])


def test_cache_commands(bench, server, tmp_path):
    invoke(_args(bench, tmp_path / "c", "list", server.url))
    res = invoke(["cache", "stats", "--json"])
    st = json.loads(res.output)
    assert st["entries"] == 12 and st["models"]["openai/fake"]["entries"] == 12
    assert st["components"] == 12  # one memoised question per level x 4
    assert "12 memoised question Components" in invoke(["cache", "stats"]).output
    res = invoke(["cache", "clear", "--model", "openai/other", "--yes"])
    assert "deleted 0" in res.output
    res = invoke(["cache", "clear", "--yes"])
    assert "deleted 12" in res.output
    assert json.loads(invoke(["cache", "stats", "--json"]).output)["components"] == 0


def _default_sigint() -> None:
    """In the child: SIGINT as a terminal delivers it. A shell that starts the test run
    in the background (`... &`, no job control) makes its children ignore SIGINT, and an
    ignored SIGINT is inherited: Python then installs no KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cli(*args):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "perrecbench", *args], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=_default_sigint)


def _wait_for_lines(path: Path, n: int, proc, timeout: float = 30.0) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if path.exists() and len(path.read_text().splitlines()) >= n:
            return
        if proc.poll() is not None:
            pytest.fail(f"run ended early: {proc.stdout.read()}")
        time.sleep(0.05)
    pytest.fail(f"{path} never reached {n} lines")


def _children(pid):
    """Processes whose parent is `pid` (e.g. HTTP worker processes)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _gone(pids, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{p}").exists() and "Z" not in _state(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


def _state(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


HTTP_MODES = {"in-process": ["--option", "http_workers=0"], "worker": ["--option", "http_workers=1"]}


@pytest.mark.parametrize("mode", list(HTTP_MODES))
def test_kill_9_then_rerun_repeats_no_successful_request(bench, tmp_path, mode):
    with FakeOpenAI(latency=0.15) as srv:
        out = tmp_path / "kill"
        args = _args(bench, out, "point", srv.url, "--max-concurrency", "2", "--levels", "hard,medium",
                     *HTTP_MODES[mode])
        proc = _cli(*args)
        _wait_for_lines(out / "predictions.jsonl", 3, proc)
        helpers = _children(proc.pid)
        assert len(helpers) == (1 if mode == "worker" else 0)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert _gone(helpers), "an HTTP worker outlived its runner"
        done_before = len(RunDir(out).read_predictions())
        before = _calls(out)
        ok_before = {c["key"] for c in before if c.get("status") == "ok"}
        assert done_before >= 3 and ok_before
        requests_before = srv.stats()["requests"]
        res = invoke(args)
        assert res.exit_code == 0, res.output
        preds = _preds(out)
        assert len(preds) == 8 and all(p.ok for p in preds.values())
        rerun = _calls(out)[len(before):]
        replayed = [c for c in rerun if c.get("key") in ok_before]
        # every request that succeeded before the kill comes back from the cache, never asked again
        assert {c["status"] for c in replayed} <= {"cached"}
        needed = sum(p.n_calls for p in preds.values())
        asked_again = srv.stats()["requests"] - requests_before
        assert asked_again == needed - len(ok_before)
        # only requests still in flight at the kill (at most --max-concurrency) were sent twice
        assert srv.stats()["requests"] - needed <= 2


def test_a_setting_that_cannot_work_stops_the_run_with_its_fix(tmp_path, server, shared):
    """Official prompts with LLM profiles and listwise few-shot need profiles of the
    held-out demo users too; without them the run stops at once and says how to fix it,
    instead of recording every question as a failure to retry."""
    templates = shared("reference", "official-templates")
    big = make_tiny_bench(tmp_path / "b")
    res = invoke(["profiles", "--bench", str(big), "--model", "openai/fake", "--base-url", server.url,
                  "--templates", str(templates), "--label", "L"])
    assert res.exit_code == 0, res.output
    out = tmp_path / "o"
    args = _args(big, out, "list", server.url, "--prompt-set", "official", "--templates", str(templates),
                 "--profile", "L", "--levels", "easy")
    with pytest.raises(ConfigError, match="--split heldout"):
        invoke([*args, "--shots", "1"])
    assert not _preds(out)  # nothing recorded as failed
    res = invoke([*args[:8], str(tmp_path / "zero-shot"), *args[9:]])  # test-split profiles are enough
    preds = _preds(tmp_path / "zero-shot")
    assert res.exit_code == 0 and len(preds) == 4 and all(p.ok for p in preds.values())


def test_kill_9_at_full_speed_loses_no_answer_that_arrived(tmp_path):
    """Answers arriving faster than the run's batched writes (call log, predictions):
    each one is in the cache as soon as it arrives, so after kill -9 only the requests
    still in flight are sent again, however recent the last batch was."""
    big = make_tiny_bench(tmp_path / "big", per_level=40)
    with FakeOpenAI(latency=0.05) as srv:
        out = tmp_path / "kill-fast"
        args = _args(big, out, "point", srv.url, "--max-concurrency", "8")
        proc = _cli(*args)
        _wait_for_lines(out / "predictions.jsonl", 20, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        res = invoke(args)
        assert res.exit_code == 0, res.output
        preds = _preds(out)
        assert len(preds) == 120 and all(p.ok for p in preds.values())
        needed = sum(p.n_calls for p in preds.values())
        # asked twice: at most the 8 requests in flight at the kill (not the ~30 answers a
        # 0.2 s write batch holds at this speed)
        assert srv.stats()["requests"] - needed <= 8, srv.stats()["requests"] - needed


@pytest.mark.parametrize("mode", list(HTTP_MODES))
def test_ctrl_c_keeps_work_and_says_how_to_resume(bench, tmp_path, mode):
    with FakeOpenAI(latency=0.2) as srv:
        out = tmp_path / "int"
        args = _args(bench, out, "pair", srv.url, "--max-concurrency", "1", *HTTP_MODES[mode])
        proc = _cli(*args)
        _wait_for_lines(out / "predictions.jsonl", 2, proc)
        helpers = _children(proc.pid)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=20)
        assert proc.returncode == 130, output
        assert _gone(helpers)
        assert "resume" in output
        kept = len(RunDir(out).read_predictions())
        assert kept >= 2
        srv.configure(latency=0.0)
        res = invoke(args)
        assert f"{kept} already done" in res.output and len(_preds(out)) == 12


def test_missing_key_stops_before_the_run_directory_exists(bench, tmp_path):
    from perrecbench.errors import ModelError

    out = tmp_path / "nokey"
    with pytest.raises(ModelError, match="OPENAI_API_KEY"):
        invoke(["run", "--bench", str(bench), "--model", "openai/gpt-4o", "--method", "list", "--out", str(out)])
    assert not out.exists()


def test_llama_cpp_like_server_prose_and_no_usage(bench, tmp_path):
    """Answers wrapped in prose, no token usage, seed ignored: still parsed, cost 0 (local)."""
    with FakeOpenAI(prose=True, usage=False) as srv:
        for method in ("point", "pair", "list"):
            res = invoke(_args(bench, tmp_path / method, method, srv.url, "--levels", "medium", "--cot"))
            assert res.exit_code == 0
            assert all(p.ok for p in _preds(tmp_path / method).values()), method
            assert "tok 0/0" in res.output and "$0.0000" in res.output


def test_official_prompt_set_end_to_end(bench, server, tmp_path):
    from conftest import shared_path

    templates = shared_path("reference", "official-templates")
    for method in ("point", "pair", "list"):
        res = invoke(_args(bench, tmp_path / method, method, server.url, "--levels", "hard",
                           "--prompt-set", "official", "--templates", str(templates)))
        assert res.exit_code == 0
        assert all(p.ok for p in _preds(tmp_path / method).values()), method
        manifest = json.loads((tmp_path / method / "manifest.json").read_text())
        assert manifest["model_config"]["prompt_set"] == "official"


def test_relative_ratings_few_shot_and_profiles(bench, server, tmp_path):
    res = invoke(_args(bench, tmp_path / "rel", "point", server.url, "--levels", "easy", "--rel-rating",
                       "--shots", "1", "--profile", "offline", "--k", "2"))
    assert res.exit_code == 0
    preds = _preds(tmp_path / "rel")
    assert all(p.ok for p in preds.values())
    for p in preds.values():  # the answer is the relative rating itself
        assert all(-2.0 <= s <= 2.0 for s in p.scores)
    cfg = json.loads((tmp_path / "rel" / "manifest.json").read_text())["model_config"]
    assert (cfg["rel_rating"], cfg["shots"], cfg["profile"], cfg["k"]) == (True, 1, "offline", 2)


def test_several_methods_in_one_process_match_separate_runs(bench, server, tmp_path):
    """`--method point,pair,list` writes OUT/<method> runs equal to one run per method,
    with each method's calls in its own calls.jsonl, and `score OUT` finds all three."""
    res = invoke(_args(bench, tmp_path / "all", "point,pair,list", server.url))
    assert res.exit_code == 0, res.output
    together = _chat_requests(server)
    for method in ("point", "pair", "list"):
        run = tmp_path / "all" / method
        assert RunDir(run).read_manifest().method == method
        preds = _preds(run)
        assert len(preds) == 12 and all(p.ok for p in preds.values())
        calls = _calls(run)
        assert calls and {c["method"] for c in calls} == {method}
        assert sum(p.n_calls for p in preds.values()) == sum(c["status"] == "ok" for c in calls)
    # the same answers as separate processes with no cache in common
    server.configure(reset=True)
    for method in ("point", "pair", "list"):
        alone = tmp_path / f"alone-{method}"
        assert invoke(_args(bench, alone, method, server.url, "--no-cache")).exit_code == 0
        assert {q: p.order for q, p in _preds(alone).items()} == {
            q: p.order for q, p in _preds(tmp_path / "all" / method).items()}
    assert _chat_requests(server) == together
    res = invoke(["score", str(tmp_path / "all"), "--format", "json", "--resamples", "10"])
    assert res.exit_code == 0, res.output
    assert {r["method"] for r in json.loads(res.output)} == {"point", "pair", "list"}


def test_several_methods_resume_and_name_their_directories(bench, server, tmp_path):
    out = tmp_path / "{method}-run"
    assert invoke(_args(bench, out, "list,point", server.url, "--limit", "2")).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["list-run", "point-run"]
    n = _chat_requests(server)
    res = invoke(_args(bench, out, "all", server.url, "--no-cache"))
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["list-run", "pair-run", "point-run"]
    assert "12 already done" in res.output  # 2 questions per level x 3 levels, for list and for point
    assert all(len(_preds(tmp_path / f"{m}-run")) == 12 for m in ("point", "pair", "list"))
    assert _chat_requests(server) > n
    with pytest.raises(ConfigError, match="unknown --method"):
        invoke(_args(bench, tmp_path / "x", "point,rank", server.url))


def test_baselines_run_several_methods_too(bench, tmp_path):
    res = invoke(["run", "--bench", str(bench), "--model", "baseline/random", "--method", "point,list",
                  "--out", str(tmp_path / "b"), "--no-progress"])
    assert res.exit_code == 0, res.output
    for m in ("point", "list"):
        assert len(_preds(tmp_path / "b" / m)) == 12
    single = tmp_path / "single"
    invoke(["run", "--bench", str(bench), "--model", "baseline/random", "--method", "list",
            "--out", str(single), "--no-progress"])
    assert {q: p.order for q, p in _preds(single).items()} == {
        q: p.order for q, p in _preds(tmp_path / "b" / "list").items()}
