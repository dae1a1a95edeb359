"""CLI: score / leaderboard output shapes, --compare, release commands, clean errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
from helpers.scoring import (
    failed,
    make_bench,
    make_run,
    ordered,
    pointwise,
    question,
    write_release,
)
from typer.testing import CliRunner

from perrecbench.cli.main import app

runner = CliRunner()
Q = [
    question("easy", f"e{i}", [1.0, -1.0] if i % 2 else [-1.0, 1.0], avgs=[3.0, 3.4])
    for i in range(6)
]
TRUE = [[0, 1] if i % 2 else [1, 0] for i in range(6)]


@pytest.fixture
def runs(tmp_path):
    bench = make_bench(tmp_path / "bench", {"easy": Q})
    good = make_run(
        tmp_path / "good",
        bench,
        "good-model",
        "list",
        {"easy": [ordered(q.id, t) for q, t in zip(Q, TRUE, strict=True)]},
    )
    half = [
        ordered(q.id, t if i < 3 else t[::-1]) for i, (q, t) in enumerate(zip(Q, TRUE, strict=True))
    ]
    half[5] = failed(Q[5].id)
    meh = make_run(tmp_path / "meh", bench, "meh-model", "list", {"easy": half[:5] + [half[5]]})
    point = make_run(
        tmp_path / "point",
        bench,
        "good-model",
        "point",
        {"easy": [pointwise(q, [4.0, 3.0]) for q in Q]},
    )
    return bench, good, meh, point


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_score_json_shape(runs):
    _, good, meh, point = runs
    rows = json.loads(invoke("score", good, meh, point, "--format", "json", "--resamples", "100"))
    keys = {
        "model",
        "method",
        "level",
        "metric",
        "score",
        "ci_low",
        "ci_high",
        "n_questions",
        "n_failed",
    }
    assert all(keys <= set(r) for r in rows)
    tau = {(r["model"], r["method"]): r for r in rows if r["metric"] == "tau-b"}
    assert tau[("good-model", "list")]["score"] == 1.0
    assert tau[("meh-model", "list")]["score"] == pytest.approx(1 / 6)  # +1 +1 +1 -1 -1 failed(0)
    assert tau[("meh-model", "list")]["n_failed"] == 1
    assert tau[("meh-model", "list")]["n_questions"] == 6
    assert tau[("meh-model", "list")]["failure_policy"] == "failed=0"
    metrics = {r["metric"] for r in rows if r["method"] == "point"}
    assert metrics == {"tau-b", "exact", "pair_acc", "mae", "rmse", "pearson"}
    official = json.loads(invoke("score", meh, "--metric", "official-v1", "--format", "json"))
    off = next(r for r in official if r["metric"] == "official-v1")
    assert off["score"] == pytest.approx(1 / 5) and off["n_scored"] == 5


def test_score_table_csv_markdown(runs):
    _, good, meh, _ = runs
    table = invoke("score", good, meh)
    assert "good-model" in table and "meh-model" in table and "failed=0" in table
    rows = list(csv.DictReader(io.StringIO(invoke("score", good, "--format", "csv"))))
    assert rows[0]["model"] == "good-model" and float(rows[0]["score"]) == 1.0
    md = invoke("score", good, "--format", "markdown", "--reference")
    assert md.startswith("| model |") and "Claude-3.5-Sonnet" in md and "published" in md


def test_compare(runs):
    _, good, meh, _ = runs
    rows = json.loads(invoke("score", good, meh, "--compare", "--format", "json"))
    (row,) = rows
    assert row["level"] == "easy" and row["n"] == 6
    assert row["diff"] == pytest.approx(5 / 6)  # per-question differences 0, 0, 0, 2, 2, 1
    assert row["p_value"] == pytest.approx(0.25)  # only +-(2, 2, 1) reach |sum| 5: 16 of 64 flips
    assert "p" in invoke("score", good, meh, "--compare")
    bad = runner.invoke(app, ["score", str(good), "--compare"])
    assert bad.exit_code != 0


def test_leaderboard(runs):
    _, good, meh, point = runs
    text = invoke("leaderboard", good, meh, point)
    assert "good-model" in text and "Avg." in text
    rows = list(
        csv.DictReader(
            io.StringIO(invoke("leaderboard", good, meh, point, "--format", "csv", "--reference"))
        )
    )
    ours = {r["model"]: r for r in rows if r["source"] == "ours"}
    assert float(ours["good-model"]["easy_list"]) == 1.0
    assert ours["good-model"]["avg_complete"] == "False"
    assert float(ours["good-model"]["avg"]) == pytest.approx(
        (1.0 + float(ours["good-model"]["easy_point"])) / 2
    )
    published = [r for r in rows if r["source"] == "published"]
    assert len(published) == 19
    assert rows[0]["model"] == "good-model"  # best Avg. first
    md = invoke("leaderboard", good, "--format", "markdown")
    assert "| easy list |" in md and "1.000*" in md


def test_release_commands(tmp_path):
    write_release(tmp_path / "rel", ["A1", "A2"], heldout=1)
    bench = tmp_path / "bench"
    out = invoke("import-release", "--data", tmp_path / "rel" / "data", "--out", bench)
    assert "test/easy: 2" in out
    pred = tmp_path / "x_hard_group_0.json"
    pred.write_text(json.dumps({"A1": [[[4, 3, 2, 1]]], "A2": ["format_not_correct"]}))
    out = invoke(
        "import-release-results",
        "--bench",
        bench,
        "--pred",
        pred,
        "--method",
        "list",
        "--level",
        "hard",
        "--model",
        "x",
        "--out",
        tmp_path / "run",
    )
    assert "1 failed" in out
    rows = json.loads(invoke("score", tmp_path / "run", "--format", "json"))
    tau = next(r for r in rows if r["metric"] == "tau-b")
    assert (tau["n_questions"], tau["n_failed"]) == (2, 1)
    out = invoke("export-release", "--bench", bench, "--out", tmp_path / "exported")
    assert (tmp_path / "exported" / "bench" / "bench-processed" / "userid2history.json").exists()


def test_user_errors_have_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "perrecbench.cli.main", "score", str(tmp_path / "missing-run")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 4
    assert "not a run directory" in proc.stderr and "Traceback" not in proc.stderr


def test_packaged_reference_table_matches_spec():
    from perrecbench.report.reference import (
        InputDataError,
        load_reference,
        method_means,
        parse_reference,
    )

    rows = load_reference()
    assert len(rows) == 19
    means = method_means(rows)
    assert means["point"] == pytest.approx(0.070, abs=5e-4)
    assert means["pair"] == pytest.approx(0.128, abs=5e-4)
    assert means["list"] == pytest.approx(0.118, abs=5e-4)
    best = max(rows, key=lambda r: r.avg)
    assert (best.model, best.avg) == ("Claude-3.5-Sonnet", 0.18)
    with pytest.raises(InputDataError, match="missing columns"):
        parse_reference("model,avg\nx,0.1\n")
