"""A real local LLM end to end: llama.cpp's OpenAI-compatible server serving SmolLM2-135M.

Every method runs through `perrecbench run` on a small synthetic benchmark, with and
without JSON mode (llama.cpp takes `{"type": "json_object", "schema": ...}`), then
the runs are scored and re-run from the cache. The model is tiny, so we assert on the
machinery (answers recorded, failures categorised, grammar-constrained answers parse,
no request repeated), not on its quality. In CI the server's packages must be there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from servers.llama_server import llama_server, llama_server_available
from typer.testing import CliRunner

from perrecbench.cli.main import app
from perrecbench.run.rundir import RunDir

pytestmark = pytest.mark.llama


@pytest.fixture(scope="module")
def base_url():
    reason = llama_server_available()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"real-LLM tests must run in CI: {reason}")
        pytest.skip(reason)
    with llama_server() as url:
        yield url


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("llama") / "bench"
    result = CliRunner().invoke(app, ["build", "--source", "synthetic", "--out", str(out),
                                      "--n-items", "4", "--n-heldout", "2", "--max-train", "2",
                                      "--no-progress"])
    assert result.exit_code == 0, result.output
    return out


LEVEL = {"point": "easy", "pair": "easy", "list": "medium"}  # few calls: CI has 2 cores


def _run(bench: Path, out: Path, method: str, url: str, *extra: str):
    args = ["run", "--bench", str(bench), "--model", "openai/smollm2", "--method", method,
            "--out", str(out), "--base-url", url, "--levels", LEVEL[method], "--limit", "1",
            "--max-tokens", "32", "--max-concurrency", "2", "--timeout", "120",
            "--no-progress", "--option", "k=2", *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result


def _calls(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "calls.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("method", ["point", "pair", "list"])
@pytest.mark.parametrize("json_mode", ["off", "object-schema"])
def test_real_llm_each_method(bench, base_url, tmp_path, method, json_mode):
    out = tmp_path / f"{method}-{json_mode}"
    _run(bench, out, method, base_url, "--json-mode", json_mode)
    preds = RunDir(out).read_predictions()
    assert len(preds) == 1  # recorded, whatever the model said
    for rec in preds:
        p = rec.prediction
        assert p.status in ("ok", "failed") and rec.level == LEVEL[method]
        if p.ok:
            n = 2 if rec.level == "easy" else 3
            assert sorted(p.order) == list(range(n))
        else:
            assert p.failure  # a category, never a silent fallback
    calls = _calls(out)
    sent = [c for c in calls if c.get("status") != "cached"]
    assert sent, "the server was really asked"
    answered = [c for c in sent if c["status"] == "ok"]
    assert answered and all(c["usage"]["completion_tokens"] > 0 and c["latency_s"] > 0 for c in answered)
    if json_mode != "off":
        # the grammar forces the answer's JSON shape: nothing fails for want of an answer
        for r in preds:
            assert r.prediction.ok or r.prediction.failure in ("not_a_permutation", "out_of_range"), (
                r.prediction.failure, r.prediction.failure_detail)

    # a re-run of a finished run asks nothing; a fresh run dir is served from the cache
    before = len(_calls(out))
    _run(bench, out, method, base_url, "--json-mode", json_mode)
    assert len(_calls(out)) == before
    again = tmp_path / f"{method}-{json_mode}-again"
    _run(bench, again, method, base_url, "--json-mode", json_mode)
    assert {c["status"] for c in _calls(again)} <= {"cached", "parse_failure"}
    assert any(c["status"] == "cached" for c in _calls(again))
    first = {(r.level, r.prediction.question_id): r.prediction.order for r in preds}
    second = {(r.level, r.prediction.question_id): r.prediction.order
              for r in RunDir(again).read_predictions()}
    assert first == second

    scored = CliRunner().invoke(app, ["score", str(out), "--format", "json", "--resamples", "50"])
    assert scored.exit_code == 0, scored.output
    rows = json.loads(scored.stdout)
    tau = [r for r in rows if r["metric"] == "tau-b"]
    assert {r["level"] for r in tau} == {LEVEL[method]}
    # a run asked one question (--limit 1) is scored on that one, and says so
    assert all(-1.0 <= r["score"] <= 1.0 and r["n_questions"] == 1 and r["n_missing"] == 0 for r in tau)
    assert f"asked 1 of the 4 test {LEVEL[method]} questions" in scored.stderr


def _invoke(args: list[str]):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result


def _llm(url: str) -> list[str]:
    return ["--model", "openai/smollm2", "--base-url", url, "--max-concurrency", "2", "--timeout", "120",
            "--no-progress"]


@pytest.mark.parametrize("prompts", ["default", "rating-wang"])
def test_real_llm_answers_the_rating_task(bench, base_url, tmp_path, prompts):
    """The rating task with our own prompt (JSON answer) and with an older family read from
    the authors' templates (a bare number); whatever the tiny model says is recorded."""
    from conftest import shared_path

    out = tmp_path / prompts
    extra = [] if prompts == "default" else [
        "--prompt-set", prompts, "--prompt-variant", "1", "--templates",
        str(shared_path("reference", "official-templates"))]
    _invoke(["run", "--bench", str(bench), *_llm(base_url), "--method", "rating", "--pairs", "2", "--out", str(out),
             "--max-tokens", "24", "--option", "k=2", "--option", "max_resamples=1", "--log-prompts", *extra])
    preds = RunDir(out).read_predictions()
    assert len(preds) == 2 and {r.level for r in preds} == {"rating"}
    for rec in preds:
        p = rec.prediction
        assert (p.ok and len(p.ratings) == 1 and 1 <= p.ratings[0] <= 5) or (not p.ok and p.failure)
    sent = [c for c in _calls(out) if c.get("status") == "ok"]
    assert sent and all(c["method"] == "rating" for c in sent)
    first = sent[0]["messages"]
    if prompts == "default":
        assert first[0]["role"] == "system" and "predicted_rating" in first[-1]["content"]
    else:  # one user message, the history as a dash list (wang variant 1)
        assert [m["role"] for m in first] == ["user"] and "\n- \"" in first[0]["content"]
    rows = json.loads(_invoke(["score", str(out), "--format", "json", "--resamples", "20"]).stdout)
    assert {r["metric"] for r in rows} >= {"mae", "rmse", "acc"}
    assert all(r["n_questions"] == 2 and r["n_failed"] + r["n_scored"] == 2 for r in rows if r["metric"] == "rmse")


def test_real_llm_sweep_in_one_process(bench, base_url, tmp_path):
    out = tmp_path / "sweep"
    _invoke(["sweep", "--bench", str(bench), *_llm(base_url), "--method", "list", "--levels", "easy", "--limit", "1",
             "--vary", "k=1", "--option", "max_tokens=32", "--option", "max_resamples=0", "--out", str(out),
             "--resamples", "20"])
    for cell in ("base", "k=1"):
        assert len(RunDir(out / cell / "list").read_predictions()) == 1
        assert any(c["status"] == "ok" for c in _calls(out / cell / "list"))
    table = json.loads((out / "sweep-table.json").read_text())
    assert {r["cell"] for r in table["rows"] if r["metric"] == "tau-b"} == {"base", "k=1"}
