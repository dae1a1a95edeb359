"""The `report` command's edges (bad input, progress, a light `--help`), the plug-in point
for new sections, and byte-identical output for the same runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers.cli import invoke
from helpers.scoring import make_bench, make_run, ordered, question
from report_helpers import ok
from typer.testing import CliRunner

from perrecbench.cli.main import app
from perrecbench.errors import BenchmarkError, ConfigError
from perrecbench.report import figures
from perrecbench.report.collect import CORE_BUILDERS, collect_sections, load_inputs
from perrecbench.report.html import esc
from perrecbench.report.section import FigureSpec, Section
from perrecbench.report.writer import write_report

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def handmade(tmp_path_factory):
    """Two models x three methods on a hand-made benchmark (no builder, no model: fast)."""
    root = tmp_path_factory.mktemp("handmade")
    qs = {"easy": [question("easy", f"e{i}", [1.0, -1.0]) for i in range(6)],
          "hard": [question("hard", f"h{i}", [1.5, 0.5, -0.5, -1.5]) for i in range(6)]}
    bench = make_bench(root / "bench", qs)
    runs = []
    for model, flip in (("good", False), ("bad", True)):
        for method in ("point", "pair", "list"):
            preds = {lv: [ordered(q.id, list(reversed(q.true_order())) if flip and i % 2 else q.true_order())
                          for i, q in enumerate(items)] for lv, items in qs.items()}
            runs.append(make_run(root / model / method, bench, f"hand/{model}", method, preds))
    return root, runs


def test_bad_input_is_a_one_line_error(tmp_path, handmade):
    root, runs = handmade
    with pytest.raises(BenchmarkError, match="not a run directory"):
        invoke(["report", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    with pytest.raises(ConfigError, match="--metric must be one of"):
        invoke(["report", str(runs[0]), "--out", str(tmp_path / "o"), "--metric", "ndcg"])
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="not a directory"):
        invoke(["report", str(runs[0]), "--out", str(tmp_path / "file"), "--no-progress"])
    assert not (tmp_path / "o").exists()  # nothing half-written
    # as a process: the message on stderr, no traceback
    proc = subprocess.run([sys.executable, "-m", "perrecbench", "report", str(tmp_path / "nope"), "--out",
                           str(tmp_path / "o")], capture_output=True, text=True, env=_env())
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 4 and last.startswith("error:") and "Traceback" not in proc.stderr


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}


def test_help_stays_light_and_progress_goes_to_stderr(tmp_path, handmade):
    code = ("import sys; sys.argv = ['perrecbench', 'report', '--help']\n"
            "from perrecbench.cli.main import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('LOADED' if 'matplotlib' in sys.modules else 'LIGHT')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env())
    assert "--reference" in proc.stdout and proc.stdout.strip().endswith("LIGHT")
    root, _ = handmade
    res = CliRunner().invoke(app, ["report", str(root / "good" / "list"), "--out", str(tmp_path / "rep"),
                                   "--resamples", "50"])
    assert res.exit_code == 0, res.output
    stages = [line[2:] for line in res.stderr.splitlines() if line.startswith("… ")]
    assert stages == ["loading runs", "scoring", "paired tests", "failures and costs", "breakdowns", "figures",
                      "writing page"]
    assert "wrote" in res.stdout and "\x1b[" not in res.stderr  # plain lines, not a terminal


@dataclass(frozen=True)
class Tally:
    """A stand-in analysis result: how many runs each method has."""

    per_method: dict[str, int]


def _tally_figure(data: Tally):
    fig = figures.new_figure(4, 2)
    ax = fig.add_subplot()
    ax.bar(list(data.per_method), list(data.per_method.values()))
    return fig


def _tally_section(inputs, progress):
    methods: dict[str, int] = {}
    for run in inputs.runs:
        methods[run.method] = methods.get(run.method, 0) + 1
    data = Tally(methods)
    return Section(key="tally", title="Runs per method", data=data,
                   render=lambda d, figs: f'<p data-tally="{esc(json.dumps(d.per_method))}">ok</p>' + figs["tally"],
                   figures=(FigureSpec("tally", "Runs per method.", _tally_figure, data),))


def test_a_new_analysis_plugs_in_with_one_builder(tmp_path, handmade):
    root, runs = handmade
    inputs = load_inputs([root / "good", root / "bad"], resamples=50)
    absent = collect_sections(inputs, builders=(lambda i, p: None,))
    assert absent == []  # a builder without its inputs adds nothing
    sections = collect_sections(inputs, builders=(_tally_section,))
    files = write_report(tmp_path / "rep", inputs, sections)
    page = files.index.read_text()
    assert '<section id="tally">' in page and 'href="#tally"' in page and "data-tally" in page
    assert {p.name for p in files.figures} >= {"tally.svg", "tally.png", "tally.pdf"}
    assert 'id="fig-tally"' in page
    doc = json.loads(files.data.read_text())
    assert doc["sections"]["tally"] == {"per_method": {"point": 2, "pair": 2, "list": 2}}
    assert doc["figures"]["tally"] == ["figures/tally.svg", "figures/tally.png", "figures/tally.pdf"]
    with pytest.raises(ValueError, match="share a key"):
        collect_sections(inputs, builders=(_tally_section, _tally_section))


def test_same_runs_give_byte_identical_files_and_no_stale_figures(tmp_path, handmade):
    root, _ = handmade
    inputs = load_inputs([root / "good", root / "bad"], resamples=50)
    first = write_report(tmp_path / "a", inputs, collect_sections(inputs))
    (tmp_path / "b" / "figures").mkdir(parents=True)
    (tmp_path / "b" / "figures" / "old-figure.svg").write_text("<svg/>")
    time.sleep(1.1)  # a date written into any file would now differ
    second = write_report(tmp_path / "b", inputs, collect_sections(inputs))
    names = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert len(names) == len(first.figures) + 3  # the figures, index.html, scores.json, report.json
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert not (tmp_path / "b" / "figures" / "old-figure.svg").exists()
    assert second.index.read_text().count("<svg") == len(first.figures) // 3


def test_the_core_builders_are_the_page_order():
    names = [b.__module__.rsplit(".", 1)[-1] for b in CORE_BUILDERS]
    assert names == ["leaderboard", "methods", "costs", "reference"]
    assert ok(["report", "--help"]).count("--reference") >= 1
