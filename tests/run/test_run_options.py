"""The run's settings as one typed value (`runner.RunOptions`), checked where they enter,
and one run request: a sweep holds the `RunRequest` every cell makes, so the two share
one check, one option merge and one message for the same mistake."""

from __future__ import annotations

import dataclasses

import pytest
from helpers.cli import invoke
from helpers.tiny_bench import make_tiny_bench

from perrecbench.bench import Benchmark
from perrecbench.errors import ConfigError
from perrecbench.models.baselines import create_baseline
from perrecbench.run.plan import RunRequest
from perrecbench.run.runner import DEFAULT_CONCURRENCY, Job, RunOptions, run_jobs
from perrecbench.run.sweep import SweepRequest


@pytest.mark.parametrize(("bad", "message"), [
    ({"limit": 0}, "--limit must be at least 1, got 0"),
    ({"limit": -1}, "--limit must be at least 1, got -1"),
    ({"max_concurrency": 0}, "--max-concurrency must be at least 1, got 0"),
    ({"pairs": 0}, r"--pairs must be at least 1 \(or all\), got 0"),
    ({"reask": "sometimes"}, "--reask 'sometimes': choose from transient, all, none"),
    ({"split": "tset"}, "unknown split 'tset'; choose from test, heldout, train"),
    ({"levels": ["easy", "eazy"]}, r"unknown level\(s\) \['eazy'\]"),
])
def test_bad_settings_are_refused_where_they_enter(bad, message):
    with pytest.raises(ConfigError, match=message):
        RunOptions(**bad)


def test_the_settings_are_one_frozen_value():
    opts = RunOptions(levels=["easy", "hard"], limit=2)
    assert opts.levels == ("easy", "hard") and opts.max_concurrency == DEFAULT_CONCURRENCY
    assert RunOptions(levels=[]).levels is None  # no level named: every level of the split
    assert RunOptions(reask=lambda pred: True).reask("x")  # a predicate is a policy too
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.limit = 0  # type: ignore[misc]
    assert hash(opts) == hash(RunOptions(levels=("easy", "hard"), limit=2))


def test_a_setting_refused_creates_no_run_directory(tmp_path):
    """Checked before a run: nothing is locked, created or written."""
    bench = Benchmark(make_tiny_bench(tmp_path / "b"))
    out = tmp_path / "r"
    with pytest.raises(ConfigError, match="unknown split"):
        run_jobs([Job(create_baseline("bias"), "list", out)], bench, RunOptions(split="tset"))
    assert not out.exists()
    summaries = run_jobs([Job(create_baseline("bias"), "list", out)], bench, RunOptions(levels=["easy"], limit=2))
    assert summaries[0].total == summaries[0].answered == 2 and summaries[0].per_level == {"easy": 2}


BASE = {"model": "baseline/cf", "methods": ["list"]}


@pytest.mark.parametrize(("bad", "message"), [
    ({"limit": 0}, "--limit must be at least 1"),
    ({"max_concurrency": 0}, "--max-concurrency must be at least 1"),
    ({"reask": "never"}, "--reask 'never'"),
    ({"split": "tset"}, "unknown split"),
    ({"pairs": 0}, "--pairs must be at least 1"),
    ({"llm_flags": {"rpm": 5}}, r"--rpm: LLM option\(s\), not for baseline/cf, which is not an LLM"),
])
def test_a_sweep_is_checked_as_the_run_it_holds(tmp_path, bad, message):
    """One check: the sweep has no copy of the run's fields, so a bad value is refused by
    the `RunRequest` a sweep is made of, with the run's message."""
    with pytest.raises(ConfigError, match=message):
        SweepRequest(RunRequest(bench=tmp_path, out=tmp_path / "s", **BASE, **bad), axes={"k": [1, 2]})
    assert {f.name for f in dataclasses.fields(SweepRequest)} == {"run", "axes", "mode"}


def test_a_cell_is_created_with_the_runs_options_and_its_settings(tmp_path):
    llm = RunRequest(bench=tmp_path, model="openai/m", methods=["point"], out=tmp_path / "s", max_concurrency=3,
                     options={"k": 2}, llm_flags={"rpm": 60.0, "tpm": None})
    sweep = SweepRequest(llm, axes={"shots": [0, 1]})
    cells = sweep.cells()
    assert [c.name for c in cells] == ["base", "shots=1"]
    assert sweep.cell_options(cells[1]) == {"k": 2, "shots": 1, "rpm": 60.0, "max_concurrency": 3}
    assert sweep.cell_options(cells[1]) == llm.model_options({"shots": 1})
    assert llm.run_options() == RunOptions(max_concurrency=6)  # a model that makes calls: 2 questions a slot


def test_run_and_sweep_refuse_an_llm_flag_for_a_baseline_alike(tmp_path):
    """The sweep's copy of the check had drifted to a shorter message than the run's."""
    bench = make_tiny_bench(tmp_path / "b")
    common = ["--bench", str(bench), "--model", "baseline/cf", "--method", "list", "--rpm", "5"]
    with pytest.raises(ConfigError) as run_error:
        invoke(["run", *common, "--out", str(tmp_path / "r")])
    with pytest.raises(ConfigError) as sweep_error:
        invoke(["sweep", *common, "--out", str(tmp_path / "s"), "--vary", "k=1,2"])
    assert str(run_error.value) == str(sweep_error.value)
    assert "it takes --option key=value" in str(sweep_error.value)
    assert not (tmp_path / "r").exists() and not (tmp_path / "s").exists()
