"""LLM run directories made by an earlier version resume, and its cached answers are found.

`tests/fixtures/old_llm_run/` was written by main c4effe1 (before issue 15) with
`tests/fixtures/make_old_llm_run.py`: partial runs (`--limit 1`) of the fake server's
model -- point, pair and list with default settings, and list and rating with many
non-default options -- and the response cache they filled. A change that alters a run
manifest's `model_config` (keys or values) makes today's code refuse these directories
("already holds a different run"); one that alters a cache key makes it ask again
what was already paid for. Both are what users with real runs would hit.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from helpers.cli import invoke
from servers.fake_openai import FakeOpenAI

from perrecbench.bench import Benchmark
from perrecbench.run.rundir import RunDir
from perrecbench.tasks import questions_for

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "old_llm_run"
COMMANDS = json.loads((FIXTURE / "commands.json").read_text())
RUNS = sorted(COMMANDS["runs"])


@pytest.fixture
def old(tmp_path):
    """A copy of the fixture, its cache where `run` looks for it ($PERRECBENCH_HOME)."""
    dst = tmp_path / "old"
    shutil.copytree(FIXTURE, dst)
    shutil.copyfile(FIXTURE / "cache.sqlite", Path(os.environ["PERRECBENCH_HOME"]) / "cache.sqlite")
    return dst


@pytest.fixture
def server():
    """The fake server on the port the fixture's cache keys name (the endpoint is part of a key)."""
    try:
        srv = FakeOpenAI(port=COMMANDS["port"])
    except OSError as exc:
        pytest.skip(f"port {COMMANDS['port']} of the fixture's cache keys is taken: {exc}")
    with srv:
        yield srv


def _args(name: str, old: Path, out: Path, url: str, limit: bool) -> list[str]:
    fill = {"{bench}": str(old / "bench"), "{out}": str(out), "{url}": url}
    args = [fill.get(a, a) for a in COMMANDS["runs"][name]]
    if not limit:
        i = args.index(COMMANDS["limit"][0])
        del args[i:i + len(COMMANDS["limit"])]
    return args


def _method_dirs(run: Path) -> dict[str, Path]:
    return {d.name: d for d in sorted(run.iterdir()) if (d / "manifest.json").exists()}


def _calls(d: Path) -> list[dict]:
    return [json.loads(line) for line in (d / "calls.jsonl").read_text().splitlines()]


def _answered(d: Path) -> set[str]:
    return {r.prediction.question_id for r in RunDir(d).read_predictions()}


def _lines(d: Path) -> list[dict]:
    """The prediction lines, less the count of answers that came from the cache."""
    lines = [json.loads(line) for line in (d / "predictions.jsonl").read_text().splitlines()]
    return sorted(({k: v for k, v in r.items() if k != "cached_calls"} for r in lines),
                  key=lambda r: (r["level"], r["question_id"]))


def _all_questions(bench: Path, manifest: dict) -> set[str]:
    """Every question the run asks without --limit (rating: the whole pair sample)."""
    b = Benchmark(bench)
    pairs = None
    if manifest["method"] == "rating":
        args = COMMANDS["runs"]["options"]
        pairs = int(args[args.index("--pairs") + 1])
    qs = questions_for(b, manifest["method"], manifest["split"], b.available(manifest["split"]), None,
                       pairs, manifest.get("rating_seed") or 0)
    return {q.id for level in qs.values() for q in level}


@pytest.mark.parametrize("name", RUNS)
def test_an_old_partial_run_resumes_asking_only_the_missing_questions(old, server, name):
    run = old / "runs" / name
    dirs = _method_dirs(run)
    before = {m: ((d / "predictions.jsonl").read_bytes(), len(_calls(d)), _answered(d),
                  json.loads((d / "manifest.json").read_text())) for m, d in dirs.items()}
    assert all(b[2] for b in before.values())  # partial runs, with answers

    res = invoke(_args(name, old, run, server.url, limit=False))
    assert res.exit_code == 0, res.output
    assert "already holds a different run" not in res.output

    asked_now = 0
    for m, d in dirs.items():
        old_bytes, old_calls, old_answered, old_manifest = before[m]
        manifest = json.loads((d / "manifest.json").read_text())
        assert manifest["model_config"] == old_manifest["model_config"]
        assert (d / "predictions.jsonl").read_bytes().startswith(old_bytes)  # the old answers stay
        everything = _all_questions(old / "bench", manifest)
        preds = {r.prediction.question_id: r.prediction for r in RunDir(d).read_predictions()}
        assert set(preds) == everything and all(p.ok for p in preds.values())  # complete now
        new_calls = _calls(d)[old_calls:]
        assert {c["question_id"] for c in new_calls} == everything - old_answered  # only the missing
        asked_now += sum(c["status"] == "ok" for c in new_calls)
    assert server.stats()["requests"] == asked_now > 0


@pytest.mark.parametrize("name", RUNS)
def test_the_old_cached_answers_are_found(old, server, tmp_path, name):
    """The same command into a new directory answers from the old cache: no request, the
    same cache keys as the old calls, the same answers."""
    out = tmp_path / "again"
    res = invoke(_args(name, old, out, server.url, limit=True))
    assert res.exit_code == 0, res.output
    assert server.stats()["requests"] == 0
    old_dirs, new_dirs = _method_dirs(old / "runs" / name), _method_dirs(out)
    assert sorted(new_dirs) == sorted(old_dirs)
    for m, d in new_dirs.items():
        calls = _calls(d)
        assert calls and {c["status"] for c in calls} == {"cached"}
        assert {c["key"] for c in calls} == {c["key"] for c in _calls(old_dirs[m]) if c.get("key")}
        old_manifest = json.loads((old_dirs[m] / "manifest.json").read_text())
        assert json.loads((d / "manifest.json").read_text())["model_config"] == old_manifest["model_config"]
        assert _lines(d) == _lines(old_dirs[m])
