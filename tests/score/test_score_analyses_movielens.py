"""The paper's analyses on real data: the five baselines on MovieLens (ml-latest-small),
each with the three preference methods and the rating task (400 pairs, as the paper).

Rating prediction rewards the two factors PerRecBench removes, so the classic rating
predictor (bias) has the lowest RMSE and about zero tau, and the model that ranks best
(content) does not have the lowest RMSE: the paper's point, shown by `correlate`.
"""

from __future__ import annotations

import csv
import json
from collections import Counter

import pytest
from conftest import shared_path
from helpers.cli import invoke

from perrecbench import METHODS, RATING
from perrecbench.bench import Benchmark
from perrecbench.models.registry import create_model
from perrecbench.records.analysis import BreakdownTable, CorrelationReport
from perrecbench.run.runner import Job, RunOptions, run_jobs
from perrecbench.score.runs import load_runs
from perrecbench.score.scoring import score_runs

BASELINES = ("random", "oracle", "bias", "content", "cf")
LIMIT = 40  # preference questions per level (the rating task asks its 400 pairs)


@pytest.fixture(scope="module")
def ml(tmp_path_factory, movielens_bench):
    root = tmp_path_factory.mktemp("ml")
    (root / "bench").symlink_to(movielens_bench)  # the session's build (read only)
    bench = Benchmark(root / "bench")  # one object: the reviews are loaded once for every run
    for name in BASELINES:
        jobs = [Job(create_model(f"baseline/{name}"), m, root / "runs" / name / m) for m in METHODS]
        run_jobs(jobs, bench, RunOptions(limit=LIMIT))
        run_jobs([Job(create_model(f"baseline/{name}"), RATING, root / "runs" / name / RATING)], bench)
    return root


def _rating_rows(ml):
    runs = load_runs([ml / "runs" / name / RATING for name in BASELINES])
    return {(r.model.removeprefix("baseline/"), r.metric): r for r in score_runs(runs, n_resamples=100)}


def test_rating_task_on_movielens_bias_wins_rmse_oracle_is_exact(ml):
    rows = _rating_rows(ml)
    assert rows[("oracle", "rmse")].score == 0 and rows[("oracle", "acc")].score == 1
    assert {rows[(m, "rmse")].n_questions for m in BASELINES} == {400}
    rmse = {m: rows[(m, "rmse")].score for m in BASELINES if m != "oracle"}
    assert min(rmse, key=rmse.get) == "bias", rmse  # the classic rating predictor
    assert rmse["random"] > 1.5 > rmse["bias"]


def test_correlate_on_movielens_best_rmse_is_not_best_tau(ml, tmp_path):
    out = tmp_path / "corr"
    res = invoke(["correlate", str(ml / "runs"), "--out", str(out), "--resamples", "200"])
    assert res.exit_code == 0, res.output
    report = CorrelationReport.read(out / "correlation.json")
    assert report.excluded == ["baseline/oracle"] and len(report.points) == 4
    best_rmse = min(report.points, key=lambda p: p.rmse)
    best_tau = max(report.points, key=lambda p: p.preference)
    assert best_rmse.label == "baseline/bias" and best_tau.label != best_rmse.label
    assert best_rmse.preference < 0.05 < best_tau.preference  # the best rating predictor ranks at chance
    assert "not the same model" in res.output
    across = {(r.x, r.coefficient): r for r in report.rows if r.view == "models"}
    assert set(across) == {(e, c) for e in ("mae", "rmse", "acc") for c in ("pearson", "spearman", "kendall")}
    assert all(r.n == 4 and -1 <= r.value <= 1 for r in across.values())
    groups = [r for r in report.rows if r.view == "groups"]
    assert {r.model for r in groups} == {p.label for p in report.points} | {"all models"}
    assert all(r.n > 50 for r in groups)  # groups with a member among the 400 rated pairs
    # the CSVs hold the same numbers, the figures are written in three formats, small, reproducibly
    with open(out / "correlation.csv", encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == len(report.rows)
    figures = sorted(p.name for p in (out / "figures").iterdir())
    assert figures == sorted(f"{n}.{ext}" for n in ("correlation", "correlation-groups", "rating-errors")
                             for ext in ("pdf", "png", "svg"))
    assert all((out / "figures" / f).stat().st_size < 150_000 for f in figures if f.endswith(".png"))
    again = tmp_path / "again"
    assert invoke(["correlate", str(ml / "runs"), "--out", str(again), "--resamples", "200"]).exit_code == 0
    for f in ("correlation.svg", "correlation.pdf", "rating-errors.png"):
        assert (out / "figures" / f).read_bytes() == (again / "figures" / f).read_bytes(), f
    with_oracle = invoke(["correlate", str(ml / "runs"), "--include-oracle", "--cell", "hard:list",
                          "--format", "json", "--resamples", "50"])
    data = json.loads(with_oracle.stdout)
    assert len(data["points"]) == 5 and data["preference"] == "tau-b hard/list"
    assert next(p for p in data["points"] if p["label"] == "baseline/oracle")["preference"] == 1.0


def test_breakdown_by_exposure_counts_every_rating_of_the_item(ml, tmp_path):
    bench = Benchmark(ml / "bench")
    with open(shared_path("data", "movielens-latest-small", "ratings.csv"), encoding="utf-8") as fh:
        source = Counter(row["movieId"] for row in csv.DictReader(fh))
    counts = bench.item_review_counts()
    items = {q.item_id for lv in ("easy", "medium", "hard") for q in bench.questions("test", lv)}
    assert all(counts[i] == source[i] for i in items)  # query items: every rating in the source data
    out = tmp_path / "bd"
    runs = [str(ml / "runs" / m) for m in ("bias", "content")]
    res = invoke(["breakdown", *runs, "--by", "exposure", "--buckets", "4", "--out", str(out), "--resamples", "100"])
    assert res.exit_code == 0, res.output
    table = BreakdownTable.read(out / "breakdown-exposure.json")
    assert "reviews.parquet" in (table.exposure_source or "")
    for model in ("baseline/bias", "baseline/content"):
        for method in METHODS:
            mine = sorted((r for r in table.rows if r.model == model and r.method == method), key=lambda r: r.rank)
            assert [r.rank for r in mine] == [0, 1, 2, 3]
            assert sum(r.n_questions for r in mine) == 3 * LIMIT  # each question in one bucket
            assert all(a.high <= b.low for a, b in zip(mine, mine[1:]))  # buckets rise
            assert all(r.ci_low <= r.score <= r.ci_high for r in mine)
        rating = [r for r in table.rows if r.model == model and r.method == RATING and r.metric == "rmse"]
        assert sum(r.n_questions for r in rating) == 400
    assert sorted(p.suffix for p in (out / "figures").iterdir()) == [".pdf", ".png", ".svg"]
    # counts from the user's file instead (say, occurrences in a pretraining corpus)
    own = tmp_path / "counts.csv"
    own.write_text("item_id,count\n" + "".join(f"{i},{len(i)}\n" for i in sorted(items)[:-3]), encoding="utf-8")
    res = invoke(["breakdown", runs[0], "--by", "exposure", "--exposure-file", str(own), "--format", "json",
                  "--resamples", "50"])
    data = json.loads(res.stdout)
    assert str(own) in data["exposure_source"] and "(no count)" in {r["group"] for r in data["rows"]}


def test_breakdown_by_genre_level_and_method(ml):
    res = invoke(["breakdown", str(ml / "runs" / "content" / "list"), "--by", "category", "--top", "3",
                  "--format", "json", "--resamples", "50"])
    rows = json.loads(res.stdout)["rows"]
    groups = [r["group"] for r in sorted(rows, key=lambda r: r["rank"])]
    assert len(groups) == 4 and groups[-1] == "(other)" and "Drama" in groups
    assert sum(r["n_questions"] for r in rows) > 3 * LIMIT  # a film counts in each of its genres
    res = invoke(["breakdown", str(ml / "runs" / "cf"), "--by", "level", "--format", "csv", "--resamples", "50"])
    lines = list(csv.DictReader(res.stdout.splitlines()))
    assert {(r["method"], r["group"]) for r in lines} >= {(m, lv) for m in METHODS for lv in ("easy", "medium", "hard")}
    res = invoke(["breakdown", str(ml / "runs" / "cf"), "--by", "method", "--format", "json", "--resamples", "50"])
    by_method = {r["method"]: r for r in json.loads(res.stdout)["rows"] if r["metric"] in ("tau-b", "rmse")}
    assert set(by_method) == {*METHODS, RATING} and by_method["list"]["n_questions"] == 3 * LIMIT
