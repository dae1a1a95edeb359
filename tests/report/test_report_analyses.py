"""The analyses on the report page: rating runs (the rating task and its correlation with
preference), breakdowns and a sweep, made here with baselines on a small synthetic
benchmark. The page is opened in headless Chromium and every number of those sections
is checked against `perrecbench correlate|breakdown --format json` and the sweep's own
`sweep-table.json`; a section whose inputs are absent is absent."""

from __future__ import annotations

import json
import shutil

import pytest
from headless_chromium import Chromium
from helpers.cli import invoke
from report_helpers import (
    DOM_CELLS,
    as_float,
    assert_not_blank,
    check_cells,
    ok,
    rounded,
    score_json,
)

from perrecbench.errors import ConfigError
from perrecbench.report.collect import collect_sections, load_inputs
from perrecbench.report.sections import sweep as sweep_section
from perrecbench.score.sweep_table import sweep_table

SYNTHETIC = ["--source", "synthetic", "--option", "n_users=80", "--n-items", "12", "--n-heldout", "3",
             "--max-train", "5"]
MODELS = ("oracle", "bias", "content", "random")
RESAMPLES = "50"


def _dom(selector: str) -> str:
    """Every element carrying `selector`'s attribute: its data-*, shown value and interval."""
    return (f"JSON.stringify([...document.querySelectorAll('{selector}')].map(e => ({{...e.dataset, "
            "shown: e.querySelector('.v').textContent.trim(), "
            "interval: (e.querySelector('.ci') || {textContent: ''}).textContent.trim()})))")


DOM = {"cells": DOM_CELLS, "corr": _dom("[data-corr-view]"), "bd": _dom("[data-bd-by]"),
       "sweep": _dom("[data-sweep]"), "sections": "[...document.querySelectorAll('section')].map(s => s.id)"}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("analyses")
    bench = root / "bench"
    ok(["build", *SYNTHETIC, "--out", str(bench), "--no-progress"])
    for name in MODELS:
        ok(["run", "--bench", str(bench), "--model", f"baseline/{name}", "--method", "point,pair,list,rating",
            "--pairs", "40", "--out", str(root / "runs" / name), "--no-progress"])
    sweep = root / "sweep"
    ok(["sweep", "--bench", str(bench), "--model", "baseline/content", "--method", "list,rating", "--vary",
        "k=1,5", "--pairs", "20", "--out", str(sweep), "--no-progress", "--resamples", RESAMPLES])
    out = root / "report"
    ok(["report", str(root / "runs"), "--sweep", str(sweep), "--out", str(out), "--resamples", RESAMPLES,
        "--no-progress"])  # the default breakdowns: category and exposure
    with Chromium(width=1280, height=1000) as browser:
        visit = browser.open_page(out / "index.html", tuple(DOM.values()), full_page=True)
    values = {k: json.loads(visit.values[v]) if k != "sections" else visit.values[v] for k, v in DOM.items()}
    return root, out, visit, values


def _json(args: list[str]) -> dict:
    res = invoke([*args, "--format", "json", "--resamples", RESAMPLES])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _check_shown(c: dict, value, low, high, sign: bool = False) -> None:
    assert as_float(c["score"]) == value, c
    assert as_float(c["ciLow"]) == low and as_float(c["ciHigh"]) == high, c
    assert c["shown"] == rounded(value, sign=sign), c
    if low is not None and high is not None:
        assert c["interval"] == f"[{rounded(low, sign=sign)}, {rounded(high, sign=sign)}]", c


def test_page_has_the_analyses_and_loads_nothing_else(made):
    root, out, visit, values = made
    assert values["sections"] == ["leaderboard", "methods", "costs", "rating", "breakdown", "sweep"]
    assert visit.requests == [(out / "index.html").resolve().as_uri()] and visit.errors == []
    assert_not_blank(visit.screenshot)
    names = {p.name for p in (out / "figures").iterdir()}
    for stem in ("rating-errors", "correlation", "correlation-groups", "breakdown-category", "breakdown-exposure",
                 "sweep-k"):
        assert {f"{stem}.svg", f"{stem}.png", f"{stem}.pdf"} <= names, stem


def test_rating_errors_are_score_rows_and_correlation_is_correlate_json(made):
    root, out, _, values = made
    rows = score_json([root / "runs"], "--resamples", RESAMPLES)
    check_cells(values["cells"], rows, "tau-b")  # leaderboard and rating cells alike
    shown = {(c["run"], c["metric"]) for c in values["cells"] if c["method"] == "rating"}
    assert shown == {(r["run"], r["metric"]) for r in rows if r["method"] == "rating" and r["metric"] in
                     ("mae", "rmse", "acc")}
    assert len(shown) == 3 * len(MODELS)
    corr = _json(["correlate", str(root / "runs")])
    want = {(r["view"], r["model"], r["x"], r["coefficient"]): r for r in corr["rows"]}
    got = {(c["corrView"], c["corrModel"], c["corrX"], c["corrCoefficient"]): c for c in values["corr"]}
    assert set(got) == set(want) and len(want) > 9
    for key, c in got.items():
        r = want[key]
        _check_shown(c, r["value"], r["ci_low"], r["ci_high"], sign=True)
        assert int(c["n"]) == r["n"]
    # report.json holds the same typed record (without the command's provenance)
    section = json.loads((out / "report.json").read_text())["sections"]["rating"]
    assert section["correlation"]["rows"] == corr["rows"] and section["correlation"]["points"] == corr["points"]
    assert section["correlation"]["excluded"] == ["baseline/oracle"]


@pytest.mark.parametrize("by", ["category", "exposure"])
def test_breakdowns_are_breakdown_json(made, by):
    root, out, _, values = made
    table = _json(["breakdown", str(root / "runs"), "--by", by])
    want = {(r["run"], r["group"], r["level"], r["metric"]): r for r in table["rows"]}
    got = {(c["bdRun"], c["bdGroup"], c["bdLevel"], c["bdMetric"]): c for c in values["bd"] if c["bdBy"] == by}
    assert set(got) == set(want) and len({k[1] for k in want}) > 1
    for key, c in got.items():
        r = want[key]
        _check_shown(c, r["score"], r["ci_low"], r["ci_high"])
        assert int(c["n"]) == r["n_questions"]
    tables = json.loads((out / "report.json").read_text())["sections"]["breakdown"]["tables"]
    mine = next(t for t in tables if t["by"] == by)["rows"]  # the command leaves out null fields
    assert [{k: v for k, v in r.items() if v is not None} for r in mine] == table["rows"]


def test_sweep_is_its_table(made):
    root, out, _, values = made
    table = json.loads((root / "sweep" / "sweep-table.json").read_text())
    want = {(r["cell"], r["method"], r["level"], r["metric"]): r for r in table["rows"]
            if r["metric"] == table["metric"] or r["method"] == "rating" and r["metric"] in ("mae", "rmse", "acc")}
    got = {(c["swCell"], c["swMethod"], c["swLevel"], c["swMetric"]): c for c in values["sweep"]}
    assert set(got) == set(want) and {k[0] for k in got} == {"base", "k=1", "k=5"}
    for key, c in got.items():
        r = want[key]
        _check_shown(c, r["score"], r["ci_low"], r["ci_high"])
    entry = json.loads((out / "report.json").read_text())["sections"]["sweep"]["sweeps"][0]
    assert entry["table"]["rows"] == table["rows"]


def test_sections_are_absent_without_their_inputs(made):
    root, _, _, _ = made
    runs = root / "runs"

    def keys(paths, **kw):
        return [s.key for s in collect_sections(load_inputs(paths, resamples=20, **kw))]

    # preference runs only, no breakdown asked: the core sections, nothing else
    assert keys([runs / m / p for m in ("bias", "content") for p in ("point", "pair", "list")]) == [
        "leaderboard", "methods", "costs"]
    # rating runs only: their errors, and no correlation (no preference runs to correlate with)
    [rating] = collect_sections(load_inputs([runs / m / "rating" for m in MODELS], resamples=20))
    assert rating.key == "rating" and rating.data.correlation is None and len(rating.data.lines) == 4
    assert "no model has both" in rating.data.no_correlation
    assert [f.name for f in rating.figures] == ["rating-errors"]
    # a sweep directory among the paths is a sweep, not leaderboard runs
    assert keys([root / "sweep"], breakdowns=("category",)) == ["sweep"]


def test_the_sweep_section_scores_the_runs_loaded_with_the_inputs(made, tmp_path):
    """Sweeps are read once, with the other runs (one benchmark object for both); the
    section only scores what was loaded: with the sweep folder gone, it is the same."""
    root, _, _, _ = made
    sweep = tmp_path / "sweep"
    shutil.copytree(root / "sweep", sweep)
    inputs = load_inputs([root / "runs" / "bias" / "list"], resamples=20, sweeps=[sweep])
    [loaded] = inputs.sweeps
    assert {run.bench for _, run in loaded.runs} == {inputs.runs[0].bench}
    shutil.rmtree(sweep)
    [section] = collect_sections(inputs, builders=[sweep_section.build])
    table, _ = sweep_table(root / "sweep", "tau-b", 20, 0)
    shown = [r.model_dump(exclude={"run"}) for r in section.data.sweeps[0].table.rows]
    assert shown == [r.model_dump(exclude={"run"}) for r in table.rows] and len(shown) > 4


def test_report_options_are_checked(made, tmp_path):
    root, _, _, _ = made
    with pytest.raises(ConfigError, match="--breakdown: genre is not one of"):
        invoke(["report", str(root / "runs" / "bias"), "--out", str(tmp_path / "o"), "--breakdown", "genre"])
    with pytest.raises(ConfigError, match="not a sweep directory"):
        invoke(["report", "--sweep", str(root / "runs"), "--out", str(tmp_path / "o")])
    with pytest.raises(ConfigError, match="give run directories"):
        invoke(["report", "--out", str(tmp_path / "o")])
    assert not (tmp_path / "o").exists()
