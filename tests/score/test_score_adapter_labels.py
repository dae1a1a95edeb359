"""Runs of one `hf/` base model with different LoRA adapters (README step 5,
`leaderboard runs/llama-*`): each is its own row, whatever order the runs are given in,
and `score --compare` names each side by its adapter."""

from __future__ import annotations

import csv
import json

import pytest
from helpers.cli import invoke
from helpers.scoring import make_bench, make_run, ordered, question

from perrecbench.models.llm.options import variant_from_config
from perrecbench.models.registry import create_model
from perrecbench.score.runs import load_run

MODEL = "hf//models/llama"
Q1 = question("medium", "i1", [0.5, 1.5, -1.0])  # true order [1, 0, 2]
Q2 = question("medium", "i2", [-1.0, 0.0, 1.0])  # true order [2, 1, 0]
RIGHT = [ordered(Q1.id, [1, 0, 2]), ordered(Q2.id, [2, 1, 0])]
WRONG = [ordered(Q1.id, [2, 0, 1]), ordered(Q2.id, [0, 1, 2])]


def _config(adapter: str | None, digest: str = "") -> dict:
    """An hf run's recorded config, as the hf backend writes it (`provider`)."""
    endpoint = "hf:/models/llama#0123456789ab" + (f";adapter={digest}" if adapter else "") + ";dtype=auto"
    return {"profile": "none", "k": 1, "provider": {"adapter": adapter, "gguf_file": None, "dtype": "auto",
                                                     "endpoint": endpoint}}


@pytest.fixture
def runs(tmp_path):
    """runs/base/point (no adapter, always right) and runs/sft-point/point (an adapter,
    always wrong), both recorded with the label today's manifests have ("no profile, k=1")."""
    bench = make_bench(tmp_path / "bench", {"medium": [Q1, Q2]})
    base = make_run(tmp_path / "runs" / "base" / "point", bench, MODEL, "point", {"medium": RIGHT},
                    _config(None), variant="no profile, k=1")
    sft = make_run(tmp_path / "runs" / "sft-point" / "point", bench, MODEL, "point", {"medium": WRONG},
                   _config("/work/adapters/sft-point", "fedcba9876543210"), variant="no profile, k=1")
    return base, sft


def test_the_adapter_is_part_of_the_label_and_recorded_once():
    config = _config("/work/adapters/sft-point", "fedcba9876543210")
    assert variant_from_config(config) == "no profile, k=1, adapter sft-point #fedcba98"
    assert variant_from_config(_config(None)) == "no profile, k=1"


def test_the_hf_recommender_labels_its_runs_with_the_adapter(tmp_path):
    """What `run --model hf/... --option adapter=DIR` writes into the manifest (no model is loaded)."""
    adapter = tmp_path / "adapters" / "point"
    adapter.mkdir(parents=True)
    (adapter / "adapter_model.safetensors").write_bytes(b"weights")
    model = create_model("hf/org/base", {"adapter": str(adapter)})
    digest = model.config()["provider"]["endpoint"].split("adapter=")[1][:8]
    assert model.variant() == f"no profile, adapter point #{digest}"
    (adapter / "adapter_model.safetensors").write_bytes(b"retrained")  # retrained in place: another label
    assert create_model("hf/org/base", {"adapter": str(adapter)}).variant() != model.variant()
    assert create_model("hf/org/base", {}).variant() == "no profile"


def test_old_runs_get_the_adapter_added_to_their_label(runs, tmp_path):
    base, sft = runs
    assert load_run(base).label == f"{MODEL} [no profile, k=1]"
    assert load_run(sft).label == f"{MODEL} [no profile, k=1, adapter sft-point #fedcba98]"
    # a run recorded with today's label does not name its adapter twice
    again = make_run(tmp_path / "new", load_run(sft).bench.path, MODEL, "point", {"medium": WRONG},
                     _config("/work/adapters/sft-point", "fedcba9876543210"),
                     variant="no profile, k=1, adapter sft-point #fedcba98")
    assert load_run(again).label == load_run(sft).label


def test_leaderboard_shows_both_rows_in_either_order(runs):
    base, sft = runs
    for order in ((base.parent, sft.parent), (sft.parent, base.parent)):
        res = invoke(["leaderboard", *map(str, order), "--format", "csv"])
        assert res.exit_code == 0, res.output
        scores = {r["model"]: float(r["medium_point"]) for r in csv.DictReader(res.stdout.splitlines())}
        assert scores == {f"{MODEL} [no profile, k=1]": 1.0,
                          f"{MODEL} [no profile, k=1, adapter sft-point #fedcba98]": -1.0}
        assert "fill the same cell" not in res.stderr


def test_score_compare_names_each_side_by_its_adapter(runs):
    base, sft = runs
    res = invoke(["score", str(base), str(sft), "--compare", "--format", "json", "--resamples", "10"])
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.stdout)
    assert row["label_a"] == f"{MODEL} [no profile, k=1]"
    assert row["label_b"] == f"{MODEL} [no profile, k=1, adapter sft-point #fedcba98]"
    assert (row["run_a"], row["run_b"]) == (str(base), str(sft))
    res = invoke(["score", str(base), str(sft), "--compare", "--format", "csv", "--resamples", "10"])
    (line,) = list(csv.DictReader(res.stdout.splitlines()))
    assert line["A"] != line["B"] and "adapter sft-point" in line["B"]


def test_score_compare_of_two_runs_with_one_label_names_their_directories(runs, tmp_path):
    base, _ = runs
    other = make_run(tmp_path / "again" / "point", load_run(base).bench.path, MODEL, "point", {"medium": RIGHT},
                     _config(None), variant="no profile, k=1")
    res = invoke(["score", str(base), str(other), "--compare", "--format", "csv", "--resamples", "10"])
    assert res.exit_code == 0, res.output
    (line,) = list(csv.DictReader(res.stdout.splitlines()))
    assert line["A"].endswith(str(base)) and line["B"].endswith(str(other))
