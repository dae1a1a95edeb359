"""`perrecbench report` on the five baselines of a small synthetic benchmark, the page
opened in a real headless Chromium: no request but its own file, no error logged, a
screenshot that is not blank, and every number equal to `perrecbench score --format json`."""

from __future__ import annotations

import csv
import json
import re
import xml.etree.ElementTree as ET
from importlib import resources

import pytest
from headless_chromium import Chromium
from report_helpers import (
    DOM_EXPRESSIONS,
    assert_not_blank,
    baseline_runs,
    check_averages,
    check_cells,
    check_tests,
    ok,
    rounded,
    score_json,
)

from perrecbench import LEVELS, METHODS

SYNTHETIC = ["--source", "synthetic", "--option", "n_users=80", "--n-items", "12", "--n-heldout", "3",
             "--max-train", "5"]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    runs = baseline_runs(root, SYNTHETIC)
    out = root / "report"
    models = sorted({str(r.parent) for r in runs})  # each a folder of three runs
    printed = ok(["report", *models, "--out", str(out), "--reference", "--breakdown", "none", "--no-progress"])
    return models, runs, out, printed


@pytest.fixture(scope="module")
def visit(synthetic):
    _, _, out, _ = synthetic
    with Chromium(width=1280, height=1000) as browser:
        return browser.open_page(out / "index.html", DOM_EXPRESSIONS, full_page=True)


def test_writes_the_page_figures_and_the_numbers(synthetic):
    _, runs, out, printed = synthetic
    assert "wrote" in printed and "index.html" in printed
    names = {p.name for p in (out / "figures").iterdir()}
    for stem in ("leaderboard-heatmap", "method-comparison", "reference-avg"):
        assert {f"{stem}.svg", f"{stem}.png", f"{stem}.pdf"} <= names
    # baselines never fail, and make no model calls: those figures are left out
    assert not any(n.startswith(("failures.", "calls-per-question.")) for n in names)
    # scores.json is `score --format json` for the same runs, row for row
    assert json.loads((out / "scores.json").read_text()) == score_json(synthetic[0])
    doc = json.loads((out / "report.json").read_text())
    assert list(doc["sections"]) == ["leaderboard", "methods", "costs", "reference"]
    assert sorted(doc["runs"]) == sorted(map(str, runs))
    board = doc["sections"]["leaderboard"]
    assert [line["label"] for line in board["lines"]][0] == "baseline/oracle"  # tau = 1 on top
    assert len(doc["sections"]["reference"]["published"]) == 19


def test_the_table_is_the_leaderboard_command_s(synthetic):
    """Same rows, same order, same Avg. as `perrecbench leaderboard --format csv`."""
    models, _, out, _ = synthetic
    board = list(csv.DictReader(ok(["leaderboard", *models, "--format", "csv"]).splitlines()))
    lines = json.loads((out / "report.json").read_text())["sections"]["leaderboard"]["lines"]
    assert [b["model"] for b in board] == [line["label"] for line in lines]
    for b, line in zip(board, lines):
        assert float(b["avg"]) == line["avg"]
        for key, cell in line["cells"].items():
            assert float(b[key.replace("/", "_")]) == cell["score"]


def test_figures_are_vector_self_contained_files(synthetic):
    _, _, out, _ = synthetic
    from PIL import Image

    for svg in (out / "figures").glob("*.svg"):
        text = svg.read_text()
        root = ET.fromstring(text)  # well-formed XML
        assert root.tag.endswith("svg")
        # text drawn as paths, no bitmap, no font or file to fetch
        assert "<text" not in text and "<image" not in text and "@font-face" not in text
        assert not re.search(r'(?:href|src)="(?!#)', text)
        png = svg.with_suffix(".png")
        with Image.open(png) as img:
            assert img.format == "PNG" and img.width > 600
        pdf = svg.with_suffix(".pdf").read_bytes()
        assert pdf.startswith(b"%PDF") and b"/FontFile2" in pdf  # TrueType embedded (Type 42)
        assert b"/CreationDate" not in pdf


def test_page_is_static_and_self_contained(synthetic):
    _, _, out, _ = synthetic
    page = (out / "index.html").read_text()
    assert "<script" not in page.lower()
    assert not re.search(r"\bsrc=", page)
    assert "@import" not in page and "@font-face" not in page
    assert not re.search(r"url\((?!#)", page)  # only references into the page's own SVG
    # every link is to a file of the report, or the paper (a link, never loaded)
    for href in re.findall(r'<a href="([^"]+)"', page):
        assert href.startswith(("figures/", "#", "scores.json", "report.json", "https://arxiv.org/")), href
    assert page.count("<svg") == 3  # the three figures, inline
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # figures' ids were prefixed apart


def test_chromium_loads_nothing_but_the_page_and_logs_no_error(visit, synthetic):
    _, _, out, _ = synthetic
    assert visit.requests == [(out / "index.html").resolve().as_uri()]
    assert visit.failed == []
    assert visit.errors == []
    assert visit.values["document.title"] == "PerRecBench report"
    assert visit.values["[...document.querySelectorAll('section')].map(s => s.id)"] == [
        "leaderboard", "methods", "costs", "reference"]
    assert_not_blank(visit.screenshot)


def test_every_number_in_the_page_equals_score_json(visit, synthetic):
    models, runs, _, _ = synthetic
    rows = score_json(models)
    cells = json.loads(visit.values[DOM_EXPRESSIONS[0]])
    # leaderboard (45), methods (45), reference (45), and the pair runs' calls/question (15)
    assert check_cells(cells, rows, "tau-b") == 45 * 3 + 15
    check_averages(json.loads(visit.values[DOM_EXPRESSIONS[2]]), rows, "tau-b",
                   {r["run"]: r["model"] for r in rows})

    def compare(a, b):
        return json.loads(ok(["score", a, b, "--compare", "--format", "json"]))

    tests = json.loads(visit.values[DOM_EXPRESSIONS[1]])
    assert len(tests) == len(runs) // 3 * len(LEVELS) * 3  # 3 pairs of methods x 3 levels per model
    assert check_tests(tests, compare) == 15


def test_published_rows_equal_the_paper_table(visit):
    text = resources.files("perrecbench").joinpath("resources", "paper_table.csv").read_text()
    table = {r["model"]: r for r in csv.DictReader(text.splitlines())}
    shown = json.loads(visit.values[DOM_EXPRESSIONS[3]])
    assert len(shown) == 19 * 10
    for cell in shown:
        raw = table[cell["published"]]["avg" if cell["level"] == "avg" else f"{cell['level']}_{cell['method']}"]
        assert float(cell["value"]) == float(raw) and cell["shown"] == rounded(float(raw), 2)
    assert {c["method"] for c in shown if c["level"] != "avg"} == set(METHODS)
