"""The README's layout: the tour's `runs/cf-list` beside the analyses' `runs/ml/cf/*`.
`leaderboard`, `score` and `report` over both keep one row per model, fill the contested
cell by the stated rule (more questions asked, then newer) and say so in one line naming
both directories; the oracle stays out of the page's mean per method."""

from __future__ import annotations

import csv
import json
import re
import shutil

import pytest
from headless_chromium import Chromium
from helpers.cli import invoke
from helpers.tiny_bench import make_tiny_bench
from report_helpers import ok

from perrecbench import LEVELS, METHODS

MODELS = ("cf", "bias", "oracle")


def _created(run, when: str) -> None:
    path = run / "manifest.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "created": when}))


@pytest.fixture(scope="module")
def readme(tmp_path_factory):
    """runs/cf-list (the tour, made first) and runs/ml/{cf,bias,oracle} (all methods and rating)."""
    root = tmp_path_factory.mktemp("readme")
    bench = make_tiny_bench(root / "bench", per_level=6)
    runs = root / "runs"
    ok(["run", "--bench", str(bench), "--model", "baseline/cf", "--method", "list", "--out",
        str(runs / "cf-list"), "--no-progress"])
    for m in MODELS:
        ok(["run", "--bench", str(bench), "--model", f"baseline/{m}", "--method", "all,rating", "--pairs", "20",
            "--out", str(runs / "ml" / m), "--no-progress"])
    _created(runs / "cf-list", "2026-01-01T00:00:00Z")
    for run in (runs / "ml").glob("*/*"):
        _created(run, "2026-01-02T00:00:00Z")
    return bench, runs


def _board(*paths):
    res = invoke(["leaderboard", *map(str, paths), "--format", "csv"])
    assert res.exit_code == 0, res.output
    return list(csv.DictReader(res.stdout.splitlines())), res.stderr


def test_leaderboard_keeps_one_row_per_model_and_names_both_runs(readme):
    _, runs = readme
    for order in ((runs / "cf-list", runs / "ml"), (runs / "ml", runs / "cf-list")):
        rows, err = _board(*order)
        assert sorted(r["model"] for r in rows) == sorted(f"baseline/{m}" for m in MODELS)
        assert all(r["avg_complete"] == "True" for r in rows)  # 9 cells each, cf's row not torn apart
        notes = [line for line in err.splitlines() if "fill the same cell" in line]
        assert len(notes) == 1, err
        assert f"{runs / 'ml' / 'cf' / 'list'} and {runs / 'cf-list'}" in notes[0]
        assert f"kept {runs / 'ml' / 'cf' / 'list'} (newer;" in notes[0]


def test_a_run_that_asked_more_questions_wins_and_the_other_narrows_nothing(readme, tmp_path):
    bench, runs = readme
    small = tmp_path / "cf-small"
    ok(["run", "--bench", str(bench), "--model", "baseline/cf", "--method", "list", "--limit", "2",
        "--out", str(small), "--no-progress"])
    _created(small, "2026-02-01T00:00:00Z")  # newer, but asked 2 questions per level, not 6
    res = invoke(["score", str(small), str(runs / "ml"), "--format", "json", "--resamples", "10"])
    assert res.exit_code == 0, res.output
    rows = [r for r in json.loads(res.stdout) if r["metric"] == "tau-b"]
    assert {r["n_questions"] for r in rows} == {6}  # the left-out 2-question run narrows no one
    assert {r["run"] for r in rows if r["model"] == "baseline/cf" and r["method"] == "list"} == {
        str(runs / "ml" / "cf" / "list")}
    assert "asked more questions (6 vs 2)" in res.stderr
    assert str(small) in res.stderr


def test_a_folder_given_twice_is_one_run_and_hidden_entries_are_no_runs(readme, tmp_path):
    _, runs = readme
    rows, err = _board(runs / "ml", runs / "ml" / "cf")
    assert len(rows) == len(MODELS)
    assert "fill the same cell" not in err
    # a lock file beside the runs and a hidden folder (a copy being written) are not runs
    folder = tmp_path / "runs"
    shutil.copytree(runs / "ml", folder)
    (folder / ".cf.lock").write_text("")
    shutil.copytree(runs / "ml" / "cf", folder / ".cf.partial")
    rows, err = _board(folder)
    assert len(rows) == len(MODELS) and "fill the same cell" not in err


@pytest.fixture(scope="module")
def page(readme, tmp_path_factory):
    _, runs = readme
    out = tmp_path_factory.mktemp("page") / "report"
    res = invoke(["report", str(runs / "cf-list"), str(runs / "ml"), "--out", str(out), "--reference",
                  "--breakdown", "none", "--resamples", "50", "--no-progress"])
    assert res.exit_code == 0, res.output
    return out, res.stderr


def test_the_page_counts_models_not_runs_and_says_which_run_it_kept(readme, page):
    _, runs = readme
    out, err = page
    html = (out / "index.html").read_text()
    assert re.search(r'<div class="k">models</div><div class="v">3</div>', html)
    data = json.loads((out / "report.json").read_text())["sections"]
    assert sorted(line["label"] for line in data["leaderboard"]["lines"]) == [f"baseline/{m}" for m in sorted(MODELS)]
    (note,) = data["leaderboard"]["notes"]
    assert str(runs / "cf-list") in note and f"kept {runs / 'ml' / 'cf' / 'list'}" in note
    assert note in err
    assert "fill the same cell" in html
    # cf is among the methods compared, and the correlation is there (no advice naming an
    # option `report` does not have)
    assert "baseline/cf" in [m["label"] for m in data["methods"]["models"]]
    assert data["rating"]["correlation"] is not None
    assert "--match" not in html and "No correlation" not in html


def test_the_mean_per_method_leaves_the_oracle_out(readme, page):
    _, runs = readme
    out, _ = page
    rows = json.loads(ok(["score", str(runs / "ml"), "--format", "json", "--resamples", "10"]))
    reference = json.loads((out / "report.json").read_text())["sections"]["reference"]
    for m in METHODS:
        kept = [r["score"] for r in rows if r["metric"] == "tau-b" and r["method"] == m and r["level"] in LEVELS
                and r["model"] != "baseline/oracle"]
        assert reference["our_method_means"][m] == pytest.approx(sum(kept) / len(kept))
    assert reference["excluded"] == ["baseline/oracle"]
    assert "ours without baseline/oracle: it reads the truth" in (out / "index.html").read_text()


def test_chromium_shows_three_models(page):
    out, _ = page
    expr = ("[...document.querySelectorAll('#leaderboard .card')].map(c => c.querySelector('.k').innerText + "
            "' ' + c.querySelector('.v').innerText)")
    with Chromium(width=1280, height=900) as browser:
        visit = browser.open_page(out / "index.html", (expr,))
    assert visit.errors == [] and visit.failed == []
    assert "MODELS 3" in visit.values[expr]


def test_correlate_takes_the_same_runs_as_the_page(readme, page):
    _, runs = readme
    out, _ = page
    res = invoke(["correlate", str(runs / "cf-list"), str(runs / "ml"), "--format", "json", "--resamples", "50"])
    assert res.exit_code == 0, res.output
    shown = json.loads((out / "report.json").read_text())["sections"]["rating"]["correlation"]
    assert json.loads(res.stdout)["points"] == shown["points"]
    assert "fill the same cells" in res.stderr
