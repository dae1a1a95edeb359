"""The typed records: round trips, files of earlier versions, newer versions refused."""

from __future__ import annotations

import json
import math

import pytest

from perrecbench import failures
from perrecbench.errors import BenchmarkError
from perrecbench.records import (
    CallRecord,
    PairStats,
    Prediction,
    PredictionLine,
    RunManifest,
    ScoreRow,
)
from perrecbench.records.provenance import current


def test_prediction_line_round_trips_and_baseline_lines_keep_their_shape():
    plain = Prediction(question_id="q1", order=[1, 0], scores=[0.1, 0.2], ratings=[3.0, None])
    line = PredictionLine(level="easy", split="test", prediction=plain).to_json()
    # the fields of earlier versions only: a baseline's line reads as it always did
    assert sorted(json.loads(line)) == ["extra", "failure", "failure_detail", "level", "n_calls",
                                        "n_failed_calls", "order", "question_id", "ratings", "scores",
                                        "split", "status"]
    rich = Prediction(question_id="q2", order=[0, 1], n_calls=4, cached_calls=2, parse_failures={"no_answer": 1},
                      pairs=PairStats(asked=1, inconsistent=1, inconsistency_rate=1.0), sample_answers=[["A"]])
    back = PredictionLine.from_json(PredictionLine(level="hard", split="test", prediction=rich).to_json())
    assert back.prediction == rich and back.level == "hard"


def test_version_1_prediction_lines_move_their_extras_into_typed_fields():
    old = {"extra": {"cached_calls": 2, "pair_strategy": "allpairs", "pairs_asked": 3, "pairs_inconsistent": 1,
                     "pairs_unparsed": 0, "inconsistency_rate": 0.3333, "parse_failures": {"empty": 1},
                     "other": "kept"},
           "failure": None, "failure_detail": None, "level": "medium", "n_calls": 12, "n_failed_calls": 1,
           "order": [2, 0, 1], "question_id": "m1", "ratings": None, "scores": None, "split": "test",
           "status": "ok"}
    p = PredictionLine.from_json(json.dumps(old)).prediction
    assert p.pairs == PairStats(strategy="allpairs", asked=3, inconsistent=1, unparsed=0, inconsistency_rate=0.3333)
    assert p.cached_calls == 2 and p.parse_failures == {"empty": 1} and p.extra == {"other": "kept"}


@pytest.mark.parametrize(("old", "new"), [("error", "internal"), ("format_not_correct", "no_answer"),
                                          ("wrong_length", "invalid_answer"), ("made-up", "internal")])
def test_failure_names_of_earlier_versions_map_into_the_vocabulary(old, new):
    p = Prediction(question_id="q", status="failed", failure=old)
    assert p.failure == new and p.failure_category is failures.BY_NAME[new]


def test_run_manifest_of_version_1_migrates_and_a_newer_one_is_refused(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"format_version": 1, "model": "openai/m", "method": "list",
                                "model_config": {"max_parse_retries": 5, "k": 4}}))
    m = RunManifest.read(path)
    assert m.format_version == 1 and m.recommender_config == {"max_resamples": 5, "k": 4}
    assert m.variant is None and m.asked_in("easy") is None  # every question, as then
    path.write_text(json.dumps({"format_version": 3, "model": "m", "method": "list"}))
    with pytest.raises(BenchmarkError, match=r"manifest.json is a run manifest of format version 3; .* up to 2"):
        RunManifest.read(path)
    path.write_text(json.dumps({"model": "m"}))
    with pytest.raises(BenchmarkError, match="not a valid run manifest.*method"):
        RunManifest.read(path)


def test_run_manifest_writes_model_config_under_its_file_name(tmp_path):
    m = RunManifest(model="baseline/cf", method="pair", model_config={"k": 10}, variant="k=10", asked={"easy": 3},
                    provenance=current())
    m.write(tmp_path / "manifest.json")
    data = json.loads((tmp_path / "manifest.json").read_text())
    assert data["model_config"] == {"k": 10} and data["format_version"] == 2 and data["asked"] == {"easy": 3}
    assert data["provenance"]["perrecbench"] and "duckdb" in data["provenance"]["packages"]
    assert RunManifest.read(tmp_path / "manifest.json") == m


def test_call_records_reject_unknown_fields_and_redact_keys(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret-1234")
    rec = CallRecord(ts=1.0, status="error", category="auth", detail="bad key sk-very-secret-1234")
    assert "sk-very-secret-1234" not in rec.to_json()
    assert CallRecord.from_json(rec.to_json()).category == "auth"
    with pytest.raises(ValueError):
        CallRecord(ts=1.0, status="ok", surprise=1)
    with pytest.raises(ValueError):
        CallRecord(ts=1.0, status="maybe")


def test_score_rows_write_nan_as_null():
    row = ScoreRow(model="m", method="list", level="easy", metric="pearson", score=math.nan, ci_low=math.nan,
                   ci_high=0.5, n_questions=2, n_failed=0, n_missing=0, n_scored=0, failure_policy="x")
    assert row.to_dict()["score"] is None and row.to_dict()["ci_high"] == 0.5
    assert math.isnan(ScoreRow.from_data(row.to_dict()).score)
