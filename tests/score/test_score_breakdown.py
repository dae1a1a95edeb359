"""Breakdowns' pure parts: exposure buckets, categories, the user's count file, and a
breakdown of a hand-made run whose per-group scores are known."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers.scoring import make_bench, make_run, question

from perrecbench import failures
from perrecbench.errors import ConfigError, InputDataError
from perrecbench.records import Prediction
from perrecbench.records.analysis import BreakdownTable
from perrecbench.score.breakdown import (
    breakdown,
    bucket_edges,
    bucket_of,
    categories_of,
    exposure_groups,
    read_exposure_file,
)
from perrecbench.score.runs import load_runs


def test_quantile_buckets_and_their_labels():
    counts = {"a": 1, "b": 2, "c": 3, "d": 4, "e": 10, "f": 20, "g": 30, "h": 40}
    edges = bucket_edges(list(counts.values()), 4)
    assert edges[0] == 1 and edges[-1] == 40 and len(edges) == 5
    assert [bucket_of(c, edges) for c in (1, 2, 3, 4, 10, 20, 30, 40)] == [0, 0, 1, 1, 2, 2, 3, 3]
    groups = exposure_groups([*counts, "zz"], counts, 4)
    assert groups["a"] == ("1-2", 0, 1, 2) and groups["h"] == ("30-40", 3, 30, 40)
    assert groups["zz"][0] == "(no count)"
    tied = bucket_edges([5, 5, 5, 5, 6], 4)  # tied counts merge buckets
    assert tied == [5.0, 6.0] and bucket_of(5, tied) == bucket_of(6, tied) == 0
    assert bucket_edges([], 4) == []
    with pytest.raises(ConfigError):
        bucket_edges([1, 2], 0)


def test_categories_split_on_bars():
    assert categories_of("Adventure|Comedy") == ["Adventure", "Comedy"]
    assert categories_of("Books") == ["Books"]
    assert categories_of(None) == categories_of("") == ["(unknown)"]


def test_exposure_file_csv_json_and_bad_lines(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text("count,item_id\n12,i1\n\n3.5,i2\n", encoding="utf-8")
    assert read_exposure_file(f) == {"i1": 12.0, "i2": 3.5}
    j = tmp_path / "c.json"
    j.write_text(json.dumps({"i1": 4}), encoding="utf-8")
    assert read_exposure_file(j) == {"i1": 4.0}
    f.write_text("item_id,count\ni1,many\n", encoding="utf-8")
    with pytest.raises(InputDataError, match="c.csv:2: count 'many' is not a number"):
        read_exposure_file(f)
    f.write_text("item_id,count\ni1,-2\n", encoding="utf-8")
    with pytest.raises(InputDataError, match=">= 0"):
        read_exposure_file(f)
    j.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(InputDataError, match="JSON object"):
        read_exposure_file(j)
    with pytest.raises(InputDataError, match="cannot read"):
        read_exposure_file(tmp_path / "missing.csv")


def test_breakdown_of_a_hand_made_run(tmp_path):
    """Four items: two "Drama|Crime" ranked right (tau 1), one "Drama" ranked wrong (tau -1),
    one without a category and failed (0); exposure 1, 2, 3, 4 ratings."""
    qs = [question("easy", f"i{k}", [0.5, -0.5]) for k in range(4)]
    bench = make_bench(tmp_path / "b", {"easy": qs})
    pq.write_table(pa.table({"item_id": [f"i{k}" for k in range(4)], "title": ["t"] * 4, "author": [None] * 4,
                             "category": ["Drama|Crime", "Drama|Crime", "Drama", None],
                             "description": [None] * 4}), bench / "items.parquet")
    reviews = [(f"u{j}", f"i{k}", 3.0, 1000 + j) for k in range(4) for j in range(k + 1)]
    cols = list(zip(*reviews, strict=True))
    pq.write_table(pa.table({"user_id": cols[0], "item_id": cols[1], "rating": cols[2], "timestamp": cols[3]}),
                   bench / "reviews.parquet")
    run = make_run(tmp_path / "r", bench, "m", "list", {"easy": [
        Prediction(question_id=qs[0].id, order=[0, 1]), Prediction(question_id=qs[1].id, order=[0, 1]),
        Prediction(question_id=qs[2].id, order=[1, 0]),
        Prediction.failed(qs[3].id, failures.NO_ANSWER)]})
    runs = load_runs([run])
    cat = {r.group: r for r in breakdown(runs, "category", n_resamples=20).rows}
    assert (cat["Drama"].score, cat["Drama"].n_questions) == (pytest.approx(1 / 3), 3)
    assert (cat["Crime"].score, cat["Crime"].n_questions) == (1.0, 2)
    assert (cat["(unknown)"].score, cat["(unknown)"].n_failed) == (0.0, 1)
    assert [g for g, _ in sorted(((r.group, r.rank) for r in cat.values()), key=lambda x: x[1])] == [
        "Drama", "Crime", "(unknown)"]
    exp = breakdown(runs, "exposure", n_buckets=2, n_resamples=20)
    by = {r.group: r for r in exp.rows}
    assert set(by) == {"1-2", "3-4"} and by["1-2"].score == 1.0 and by["3-4"].score == pytest.approx(-0.5)
    assert (by["1-2"].low, by["1-2"].high, by["3-4"].rank) == (1, 2, 1)
    again = BreakdownTable.from_data(exp.to_data())
    assert again.rows == exp.rows
    with pytest.raises(ConfigError, match="--by"):
        breakdown(runs, "genre")
