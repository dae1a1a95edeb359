"""`perrecbench train` on a tiny random Llama: log, summary, resume, early errors, distributed launch."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from helpers.cli import invoke
from helpers.train_fixtures import tiny_train_args

from perrecbench.errors import ConfigError

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def trained_run(tiny_llama, point_sft, tmp_path_factory):
    """The training, with what it printed and the warnings it let through."""
    train, held = point_sft
    out = tmp_path_factory.mktemp("run") / "adapter"
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        res = invoke(tiny_train_args(tiny_llama, train, out, f"eval_dataset={held}"))
    assert res.exit_code == 0, res.output
    return out, res.output, [w for w in seen if issubclass(w.category, FutureWarning)]


@pytest.fixture(scope="module")
def trained(trained_run):
    return trained_run[0]


def test_no_progress_is_quiet_and_library_deprecations_are_hidden(trained_run):
    _, output, future_warnings = trained_run
    for bar in ("Loading weights", "Tokenizing train dataset", "Writing model shards", "it/s]"):
        assert bar not in output
    assert future_warnings == []


def test_train_writes_adapter_log_and_summary(trained, tiny_llama):
    log = [json.loads(line) for line in (trained / "train_log.jsonl").read_text().splitlines()]
    steps = [r for r in log if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3, 4]
    assert all(r["num_tokens"] > 0 and r["learning_rate"] >= 0 for r in steps)
    assert [r["step"] for r in log if "eval_loss" in r] == [0, 4]  # before and after training
    summary = json.loads((trained / "train_summary.json").read_text())
    assert summary["steps"] == 4 and summary["tokens"] == steps[-1]["num_tokens"]
    assert summary["final_loss"] == steps[-1]["loss"] and summary["first_loss"] == steps[0]["loss"]
    assert summary["eval_loss_before"] is not None and summary["eval_loss_after"] is not None
    assert summary["chat_template"] == "smollm2_training" and summary["precision"] == "fp32"
    assert summary["rows"] == 18 and summary["rows_too_long"] == 0 and summary["tokens_per_second"] > 0
    cfg = json.loads((trained / "adapter_config.json").read_text())
    assert (cfg["r"], cfg["lora_alpha"], cfg["lora_dropout"]) == (16, 16, 0.05)
    assert sorted(cfg["target_modules"]) == sorted(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                    "up_proj", "down_proj"])
    assert cfg["base_model_name_or_path"] == str(tiny_llama.resolve())
    # the adapter ships the model's own template (the training one only marks the answer)
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(trained).chat_template == AutoTokenizer.from_pretrained(tiny_llama).chat_template


def test_rerun_resumes_from_the_last_checkpoint_to_the_same_weights(trained, tiny_llama, point_sft, tmp_path):
    from safetensors.torch import load_file

    train, held = point_sft
    again = tmp_path / "adapter"
    shutil.copytree(trained, again)
    for name in ("checkpoint-4", "adapter_model.safetensors", "train_summary.json"):  # "killed" after step 2
        p = again / name
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    res = invoke(tiny_train_args(tiny_llama, train, again, f"eval_dataset={held}", "logging_steps=2"))
    assert res.exit_code == 0, res.output
    summary = json.loads((again / "train_summary.json").read_text())
    first = json.loads((trained / "train_summary.json").read_text())
    assert summary["resumed_from"] == "checkpoint-2" and summary["steps"] == 4
    assert summary["eval_loss_before"] == first["eval_loss_before"]
    # the log and the summary cover the whole training: steps 3 and 4 (logged by the killed run)
    # are not there twice, and the first loss, the tokens and the time count from step 1
    log = [json.loads(line) for line in (again / "train_log.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in log if "loss" in r]
    assert steps[:2] == [1, 2] and steps[-1] == 4 and steps == sorted(set(steps))
    assert [r["step"] for r in log if "eval_loss" in r] == [0, 4]
    assert summary["first_loss"] == first["first_loss"] and summary["tokens"] == first["tokens"]
    assert summary["train_seconds"] > summary["extra"]["train_runtime"]
    a, b = load_file(trained / "adapter_model.safetensors"), load_file(again / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(float((a[k] - b[k]).abs().max()) < 1e-6 for k in a)
    with pytest.raises(ConfigError, match="another config .*lora"):
        invoke(tiny_train_args(tiny_llama, train, again, "lora.r=8"))


def test_a_finished_training_is_left_alone(trained, tiny_llama, point_sft, tmp_path):
    again = tmp_path / "adapter"
    shutil.copytree(trained, again)
    before = {p.name: p.read_bytes() for p in again.iterdir() if p.is_file()}
    res = invoke(tiny_train_args(tiny_llama, point_sft[0], again, f"eval_dataset={point_sft[1]}"))
    assert res.exit_code == 0 and "already holds this training, finished (4 steps" in res.output
    assert {p.name: p.read_bytes() for p in again.iterdir() if p.is_file()} == before  # no step 5
    assert sorted(p.name for p in again.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]


def test_a_local_model_path_that_does_not_exist_is_named(point_sft, tmp_path):
    with pytest.raises(ConfigError, match="model ./no-such-model: no such file or directory"):
        invoke(["train", "--out", str(tmp_path / "o"), "--set", "model=./no-such-model",
                "--set", f"dataset={point_sft[0]}"])
    assert not (tmp_path / "o").exists()


def test_bad_data_stops_before_training(tiny_llama, point_sft, tmp_path):
    rows = [json.loads(line) for line in (point_sft[0] / "train_sft.jsonl").read_text().splitlines()]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"messages": rows[0]["messages"][:-1]}) + "\n")
    with pytest.raises(ConfigError, match="row 1: the last turn must be the assistant"):
        invoke(tiny_train_args(tiny_llama, bad, tmp_path / "o1"))
    bad.write_text("{not json\n")
    with pytest.raises(Exception, match="bad.jsonl:1: not a JSON object"):
        invoke(tiny_train_args(tiny_llama, bad, tmp_path / "o2"))
    with pytest.raises(ConfigError, match="longer than max_length 16"):
        invoke(tiny_train_args(tiny_llama, point_sft[0], tmp_path / "o3", "max_length=16"))
    with pytest.raises(ConfigError, match="cannot set up training.*no_such_proj"):
        invoke(tiny_train_args(tiny_llama, point_sft[0], tmp_path / "o4", "lora.target_modules=[no_such_proj]"))
    assert not any((tmp_path / f"o{i}").exists() for i in (1, 2, 3))
    res = invoke(["train", "--check", *tiny_train_args(tiny_llama, point_sft[0], tmp_path / "o5")[1:]])
    assert res.exit_code == 0 and "18 rows fit" in res.output and not (tmp_path / "o5").exists()


@pytest.mark.slow
def test_train_runs_unchanged_under_a_two_process_launch(tiny_llama, point_sft, tmp_path):
    """The distributed engine is torch.distributed + accelerate (here: two CPU processes)."""
    out = tmp_path / "ddp"
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "perrecbench", *tiny_train_args(tiny_llama, point_sft[0], out, "max_steps=2")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)  # its own process group: a timeout ends the workers too
    try:
        stdout, stderr = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    assert proc.returncode == 0, stderr[-3000:]
    log = [r for r in map(json.loads, (out / "train_log.jsonl").read_text().splitlines()) if "loss" in r]
    assert [r["step"] for r in log] == [1, 2]
    assert log[0]["epoch"] == pytest.approx(1 / 5)  # 18 rows over 2 processes, batch 2: 5 steps an epoch (9 alone)
    assert (out / "adapter_model.safetensors").exists() and (stdout + stderr).count("trained 2 steps") == 1  # rank 0 only
