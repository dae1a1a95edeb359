"""`perrecbench sweep`: planning the cells, a baseline sweep end to end (run directories,
tidy table, plots, resume), and an LLM sweep against a loopback server whose cells share
one set of request slots and one cache."""

from __future__ import annotations

import csv
import json

import pytest
from helpers.cli import invoke
from helpers.tiny_bench import make_tiny_bench
from servers.fake_openai import FakeOpenAI

from perrecbench.errors import BenchmarkError, ConfigError
from perrecbench.records.sweep import SweepManifest, SweepTable
from perrecbench.run.plan import RunRequest
from perrecbench.run.rundir import RunDir
from perrecbench.run.sweep import SweepRequest, cell_name, parse_axis, plan_cells


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return make_tiny_bench(tmp_path_factory.mktemp("bench") / "tiny")


def test_axes_and_cells_one_at_a_time_or_grid(tmp_path):
    assert parse_axis("k=1, 2,4,2") == ("k", [1, 2, 4])
    assert parse_axis("cot=off,on") == ("cot", [False, True])
    assert parse_axis("temperature=0,0.5") == ("temperature", [0, 0.5])
    assert parse_axis("prompt-set=default,official") == ("prompt_set", ["default", "official"])
    with pytest.raises(ConfigError, match="SETTING=V1"):
        parse_axis("k")
    axes = {"k": [1, 4, 8], "cot": [False, True]}
    oat = plan_cells(axes, {"k": 4, "cot": False})
    assert [c.name for c in oat] == ["base", "k=1", "k=8", "cot=on"]  # k=4 and cot=off are the base
    assert oat[2].settings == {"k": 8, "cot": False}
    grid = plan_cells(axes, {"k": 4, "cot": False}, "grid")
    assert len(grid) == 6 and grid[0].name == "k=1,cot=off"
    assert cell_name({"prompt_set": "a/b c"}) == "prompt_set=a_b_c"
    req = SweepRequest(RunRequest(bench=tmp_path, model="openai/m", methods=["list"], out=tmp_path),
                       axes={"temperature": [0.1, 1]})
    assert [c.name for c in req.cells()] == ["base", "temperature=1"]  # unset temperature is the release's 0.1
    for axes, message in (({"base_url": ["a"]}, "an LLM sweep varies"), ({"kk": [1]}, "an LLM sweep varies")):
        with pytest.raises(ConfigError, match=message):
            SweepRequest(RunRequest(bench=tmp_path, model="openai/m", methods=["list"], out=tmp_path), axes=axes).cells()
    with pytest.raises(ConfigError, match="has the options k, shrinkage"):
        SweepRequest(RunRequest(bench=tmp_path, model="baseline/cf", methods=["list"], out=tmp_path),
                     axes={"lr": [1]}).cells()
    with pytest.raises(ConfigError, match="both varied"):
        SweepRequest(RunRequest(bench=tmp_path, model="baseline/cf", methods=["list"], out=tmp_path,
                                options={"k": 3}), axes={"k": [1]})


def test_baseline_sweep_end_to_end_and_resumed(bench, tmp_path):
    out = tmp_path / "sweep"
    args = ["sweep", "--bench", str(bench), "--model", "baseline/content", "--method", "list,rating",
            "--vary", "k=1,5", "--pairs", "6", "--out", str(out), "--no-progress", "--resamples", "50"]
    res = invoke(args)
    assert res.exit_code == 0, res.output
    manifest = SweepManifest.read(out / "sweep.json")
    assert [c.name for c in manifest.cells] == ["base", "k=1", "k=5"] and manifest.base == {"k": 20}
    for cell in manifest.cells:
        for method in ("list", "rating"):
            run = RunDir(out / cell.name / method).read_manifest()
            assert run.recommender_config["k"] == cell.settings["k"] and run.method == method
    table = SweepTable.read(out / "sweep-table.json")
    tau = [r for r in table.rows if r.metric == "tau-b"]
    assert {(r.cell, r.level) for r in tau} == {(c, lv) for c in ("base", "k=1", "k=5")
                                                for lv in ("easy", "medium", "hard")}
    rmse = [r for r in table.rows if r.metric == "rmse"]
    assert len(rmse) == 3 and all(r.n_questions == 6 and r.settings["k"] in (1, 5, 20) for r in rmse)
    with open(out / "sweep-table.csv", encoding="utf-8") as fh:
        lines = list(csv.DictReader(fh))
    assert len(lines) == len(table.rows) and {"cell", "k", "method", "level", "metric", "ci_low"} <= set(lines[0])
    assert sorted(p.name for p in (out / "figures").iterdir()) == ["sweep-k.pdf", "sweep-k.png", "sweep-k.svg"]
    assert "base" in res.output and "k=5" in res.output
    again = invoke(args)
    assert again.exit_code == 0 and "0 answered now" in again.output
    assert SweepTable.read(out / "sweep-table.json").rows == table.rows
    with pytest.raises(BenchmarkError, match="holds a sweep of baseline/content"):
        invoke([*args[:4], "baseline/cf", *args[5:]])
    dry = invoke([*args, "--dry-run"])
    assert "3 cells of baseline/content, which makes no model calls" in dry.output


def test_llm_sweep_shares_request_slots_and_logs_per_cell(bench, tmp_path):
    out = tmp_path / "llm"
    with FakeOpenAI(latency=0.05) as server:
        args = ["sweep", "--bench", str(bench), "--model", "openai/fake", "--base-url", server.url,
                "--method", "point", "--vary", "k=1,2", "--max-concurrency", "2", "--out", str(out),
                "--no-progress", "--resamples", "20"]
        dry = invoke([*args, "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert "3 cells · 108 requests" in dry.output  # 3 cells x (4x2 + 4x3 + 4x4 members)
        assert server.stats()["requests"] == 0
        res = invoke(args)
        assert res.exit_code == 0, res.output
        stats = server.stats()
    # three cells, up to 4 questions x 4 members open at once: the cells' slots are one set of 2
    assert stats["max_inflight"] == 2
    assert stats["requests"] == 108
    sent = 0
    for cell, k in (("base", 4), ("k=1", 1), ("k=2", 2)):
        run = out / cell / "point"
        calls = [json.loads(line) for line in (run / "calls.jsonl").read_text().splitlines()]
        assert len(calls) == 36 and {c["status"] for c in calls} == {"ok"}
        assert RunDir(run).read_manifest().recommender_config["k"] == k
        sent += len(calls)
    assert sent == stats["requests"]  # every request logged once, in its own cell
    table = SweepTable.read(out / "sweep-table.json")
    assert {r.cell for r in table.rows} == {"base", "k=1", "k=2"}
