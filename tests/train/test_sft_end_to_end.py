"""The paper's SFT study end to end on a real instruct model, offline, on CPU:
sft-data -> train six steps -> loss falls, held-out loss drops -> evaluate with `hf/`
through `run` and `score`, parse-failure rate before and after. Sized to the least its
assertions need: six steps (the mean of the first three losses against the last three),
a learning rate that teaches the answer format in those, two held-out rows, one question."""

from __future__ import annotations

import json

import pytest
from helpers.cli import invoke

from perrecbench.run.rundir import RunDir


def _sft(bench, out, split, levels, limit):
    res = invoke(["sft-data", "--bench", str(bench), "--format", "point", "--k", "1", "--split", split,
                  "--levels", levels, "--limit", str(limit), "--out", str(out)])
    assert res.exit_code == 0, res.output


def _evaluate(bench, model, out, *extra):
    res = invoke(["run", "--bench", str(bench), "--model", f"hf/{model}", "--method", "point", "--out", str(out),
                  "--levels", "easy", "--limit", "1", "--k", "1", "--temperature", "0", "--max-tokens", "12",
                  "--option", "max_parse_retries=0", "--no-progress", *extra])
    assert res.exit_code == 0, res.output
    preds = [r.prediction for r in RunDir(out).read_predictions()]
    assert len(preds) == 1
    scored = invoke(["score", str(out)])
    assert scored.exit_code == 0, scored.output
    return sum(not p.ok for p in preds) / len(preds)


@pytest.mark.slow
def test_sft_point_adapter_learns_the_answer_format(sft_bench, smollm2_dir, tmp_path):
    _sft(sft_bench, tmp_path / "train", "train", "easy,medium", 3)  # 15 rows
    _sft(sft_bench, tmp_path / "held", "heldout", "easy", 1)  # 2 rows
    adapter = tmp_path / "adapter"
    args = ["train", "--out", str(adapter), "--no-progress"]
    for s in (f"model={smollm2_dir}", f"dataset={tmp_path / 'train'}", f"eval_dataset={tmp_path / 'held'}",
              "max_steps=6", "batch_size=1", "gradient_accumulation=1", "learning_rate=1e-3",
              "precision=fp32", "save_steps=100", "max_length=512"):
        args += ["--set", s]
    res = invoke(args)
    assert res.exit_code == 0, res.output
    summary = json.loads((adapter / "train_summary.json").read_text())
    losses = [r["loss"] for r in map(json.loads, (adapter / "train_log.jsonl").read_text().splitlines()) if "loss" in r]
    assert summary["steps"] == 6 and len(losses) == 6 and summary["chat_template"] == "smollm2_training"
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3, losses
    assert summary["eval_loss_after"] < summary["eval_loss_before"], summary

    before = _evaluate(sft_bench, smollm2_dir, tmp_path / "base")
    after = _evaluate(sft_bench, smollm2_dir, tmp_path / "tuned", "--option", f"adapter={adapter}")
    print(f"\nSmolLM2-135M point, easy test questions: parse failures {before:.0%} before, {after:.0%} after "
          f"SFT; train loss {losses[0]:.3f} -> {losses[-1]:.3f}, held-out loss "
          f"{summary['eval_loss_before']:.3f} -> {summary['eval_loss_after']:.3f}")
    assert after == 0.0 and after <= before, (before, after)
