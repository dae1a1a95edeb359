"""`perrecbench report --metric official-v1 --reference` on the five baselines of a small
MovieLens benchmark (../shared, the held-out split of the session's build, 20 questions per level): the page in
headless Chromium, its numbers against `perrecbench score --metric official-v1 --format json`."""

from __future__ import annotations

import json

import pytest
from headless_chromium import Chromium
from report_helpers import (
    DOM_EXPRESSIONS,
    assert_not_blank,
    baseline_runs,
    check_cells,
    check_tests,
    ok,
    score_json,
)


@pytest.fixture(scope="module")
def movielens(tmp_path_factory, movielens_bench):
    root = tmp_path_factory.mktemp("movielens")
    # the session's build: its held-out split, 20 questions per level, every one asked
    runs = baseline_runs(root, [], movielens_bench, "--split", "heldout")
    models = sorted({str(r.parent) for r in runs})
    out = root / "report"
    ok(["report", *models, "--out", str(out), "--metric", "official-v1", "--reference",
        "--resamples", "300", "--seed", "3", "--title", "MovieLens baselines", "--no-progress"])
    return models, out


def test_movielens_report_in_chromium_equals_score_json(movielens):
    models, out = movielens
    extra = ("--metric", "official-v1", "--resamples", "300", "--seed", "3")
    rows = score_json(models, *extra)
    assert json.loads((out / "scores.json").read_text()) == rows
    with Chromium() as browser:
        visit = browser.open_page(out / "index.html", DOM_EXPRESSIONS)
    assert visit.requests == [(out / "index.html").resolve().as_uri()]
    assert visit.errors == [] and visit.failed == []
    assert visit.values["document.title"] == "MovieLens baselines"
    assert_not_blank(visit.screenshot)
    assert check_cells(json.loads(visit.values[DOM_EXPRESSIONS[0]]), rows, "official-v1") == 150

    def compare(a, b):
        return json.loads(ok(["score", a, b, "--compare", "--format", "json", *extra]))

    assert check_tests(json.loads(visit.values[DOM_EXPRESSIONS[1]]), compare) == 15
    page = (out / "index.html").read_text()
    assert "Not like for like" not in page  # official-v1 is how the paper scored


def test_the_bias_baseline_is_not_a_preference_model(movielens):
    """The paper's premise on real data: global + user + item bias knows no preference;
    the oracle is exact. The page shows what the scores say."""
    _, out = movielens
    doc = json.loads((out / "report.json").read_text())
    lines = {line["label"]: line for line in doc["sections"]["leaderboard"]["lines"]}
    assert lines["baseline/oracle"]["avg"] == 1.0
    assert abs(lines["baseline/bias"]["avg"]) < 0.3
