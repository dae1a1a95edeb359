"""Which questions a run is scored on: those it was asked (`--limit`), the questions runs
shown side by side share, and what is said about incomplete runs."""

from __future__ import annotations

import json

import pytest
from helpers.cli import invoke
from helpers.tiny_bench import make_tiny_bench

from perrecbench.score.compare import compare_runs
from perrecbench.score.runs import load_run, load_runs
from perrecbench.score.scoring import score_runs


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return make_tiny_bench(tmp_path_factory.mktemp("bench") / "tiny", per_level=6)


def _run(bench, out, model="baseline/oracle", method="list", *extra):
    res = invoke(["run", "--bench", str(bench), "--model", model, "--method", method, "--out", str(out),
                  "--no-progress", *extra])
    assert res.exit_code == 0, res.output
    return out


def _tau(rows, level="easy"):
    return next(r for r in rows if r.metric == "tau-b" and r.level == level)


def test_a_limited_run_is_scored_on_the_questions_it_was_asked(bench, tmp_path):
    """`--limit 2` is a run of 2 questions per level, not a model that failed the other 4."""
    run = _run(bench, tmp_path / "small", "baseline/oracle", "list", "--limit", "2")
    loaded = load_run(run)
    assert [len(qs) for qs in loaded.questions.values()] == [2, 2, 2]
    tau = _tau(score_runs([loaded], n_resamples=0))
    assert (tau.score, tau.n_questions, tau.n_missing) == (1.0, 2, 0)
    assert any("asked 2 of the 6 test easy questions (--limit)" in w for w in loaded.warnings)
    # the same command without --limit finishes the run: every question now
    _run(bench, run, "baseline/oracle", "list")
    tau = _tau(score_runs([load_run(run)], n_resamples=0))
    assert (tau.n_questions, tau.n_missing) == (6, 0)


def test_an_interrupted_run_says_it_is_incomplete(bench, tmp_path):
    run = _run(bench, tmp_path / "r", "baseline/oracle", "list")
    path = run / "predictions.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-3]))  # as if it had been stopped before the last answers
    loaded = load_run(run)
    assert any("incomplete" in w and "have no answer" in w for w in loaded.warnings)
    rows = score_runs([loaded], n_resamples=0)
    assert sum(r.n_missing for r in rows if r.metric == "tau-b") == 3


def test_runs_asked_different_questions_are_compared_on_those_they_share(bench, tmp_path):
    full = _run(bench, tmp_path / "full", "baseline/random", "list")
    small = _run(bench, tmp_path / "small", "baseline/oracle", "list", "--limit", "3")
    a, b = load_runs([full, small])
    assert all(len(a.questions[lv]) == len(b.questions[lv]) == 3 for lv in a.levels)
    assert any("scored on the 3 they share" in w for w in a.warnings + b.warnings)
    rows = score_runs([a, b], n_resamples=0)
    assert {r.n_questions for r in rows if r.metric == "tau-b"} == {3}
    (easy, *_) = compare_runs(a, b, n_resamples=50)
    assert easy.n == 3
    # alone, the full run is scored on all of its questions
    (alone,) = load_runs([full])
    assert _tau(score_runs([alone], n_resamples=0)).n_questions == 6


def test_score_command_prints_the_notes_on_stderr_and_json_on_stdout(bench, tmp_path):
    full = _run(bench, tmp_path / "full", "baseline/bias", "list")
    small = _run(bench, tmp_path / "small", "baseline/oracle", "list", "--limit", "3")
    res = invoke(["score", str(full), str(small), "--format", "json", "--resamples", "10"])
    rows = json.loads(res.stdout)
    assert {r["n_questions"] for r in rows if r["metric"] == "tau-b"} == {3}
    assert "they share" in res.stderr


def test_scoring_a_sweep_does_not_load_the_sweep_planner():
    """`score.sweep_table` reads a sweep's manifest from `records`, not through `run.sweep`
    (which brings the model registry and the runner)."""
    import subprocess
    import sys

    code = ("import sys, perrecbench.score.sweep_table; "
            "print(sorted(m for m in sys.modules if m.startswith('perrecbench.run.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "perrecbench.run.sweep" not in out and "perrecbench.run.rundir" in out
