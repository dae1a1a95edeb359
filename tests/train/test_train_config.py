"""`perrecbench train` configuration: release defaults, --set overrides, clear errors, light imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from perrecbench.errors import ConfigError
from perrecbench.train.config import CONFIG_DIR, PROJECTIONS, TrainConfig, load_config

SRC = Path(__file__).resolve().parents[2] / "src"


def test_defaults_are_the_release_recipe():
    cfg = TrainConfig(model="m", dataset="d")
    assert (cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout) == (16, 16, 0.05)
    assert cfg.lora.target_modules == PROJECTIONS == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                      "up_proj", "down_proj"]
    assert (cfg.learning_rate, cfg.epochs, cfg.lr_scheduler, cfg.warmup_ratio) == (1e-5, 2, "cosine", 0.1)
    assert (cfg.max_length, cfg.seed, cfg.batch_size, cfg.gradient_accumulation) == (7000, 42, 4, 4)
    assert cfg.precision == "auto"  # bf16 where the hardware has it


def test_shipped_configs_load_and_the_release_one_is_llama31():
    names = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml") if not p.stem.startswith("accelerate"))
    assert {"release-llama31-8b", "release-mistral-nemo", "smollm2-cpu"} <= set(names)
    for name in names:
        load_config(name)
    rel = load_config("release-llama31-8b")
    assert rel.model == "meta-llama/Llama-3.1-8B-Instruct"
    assert rel.model_dump(exclude={"model", "dataset", "save_steps"}) == \
        TrainConfig(model="x", dataset="y").model_dump(exclude={"model", "dataset", "save_steps"})


def test_the_zero3_config_is_one_accelerate_reads():
    pytest.importorskip("accelerate")
    from accelerate.commands.config.config_args import load_config_from_file

    cfg = load_config_from_file(str(CONFIG_DIR / "accelerate-deepspeed-zero3.yaml"))
    assert str(cfg.distributed_type).endswith("DEEPSPEED") and cfg.deepspeed_config["zero_stage"] == 3


def test_set_overrides_are_typed_and_validated(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: m\ndataset: d\nlora:\n  r: 8\n")
    cfg = load_config(path, ["lora.alpha=32", "learning_rate=2e-4", "max_steps=12", "lora.target_modules=[q_proj, v_proj]",
                             "precision=fp32", "gradient_checkpointing=false"])
    assert (cfg.lora.r, cfg.lora.alpha, cfg.learning_rate, cfg.max_steps) == (8, 32, 2e-4, 12)
    assert cfg.lora.target_modules == ["q_proj", "v_proj"] and cfg.gradient_checkpointing is False
    with pytest.raises(ConfigError, match="lora.rank: Extra inputs are not permitted"):
        load_config(path, ["lora.rank=8"])
    with pytest.raises(ConfigError, match="learning_rate: Input should be greater than 0"):
        load_config(path, ["learning_rate=-1"])
    with pytest.raises(ConfigError, match="precision"):
        load_config(path, ["precision=int4"])
    with pytest.raises(ConfigError, match="--set expects key=value"):
        load_config(path, ["lora.r"])
    with pytest.raises(ConfigError, match="dataset: Field required"):
        load_config(None, ["model=m"])
    path.write_text("- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(path)
    with pytest.raises(ConfigError, match="not found .*release-llama31-8b"):
        load_config(tmp_path / "missing.yaml")


def _cli(*args, code="") -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "COLUMNS": "2000", "TERM": "dumb"}
    return subprocess.run([sys.executable, "-c", code or "from perrecbench.cli.main import main; main()", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_a_bad_config_is_one_line_before_anything_loads(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model: m\ndataset: d\nepochs: zero\n")
    res = _cli("train", "--config", str(path), "--out", str(tmp_path / "o"))
    assert res.returncode == 3 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == ["error: bad training config: epochs: Input should be a valid number, "
                                               "unable to parse string as a number"]
    assert not (tmp_path / "o").exists()


def test_the_cli_help_does_not_import_the_training_libraries():
    code = ("import sys\nfrom perrecbench.cli.main import app\n"
            "for args in (['--help'], ['train', '--help'], ['merge', '--help'], ['sft-data', '--help']):\n"
            "    try:\n        app(args)\n    except SystemExit:\n        pass\n"
            "heavy = sorted(m for m in ('torch', 'transformers', 'trl', 'peft', 'datasets') if m in sys.modules)\n"
            "print('HEAVY', heavy)")
    res = _cli(code=code)
    assert "HEAVY []" in res.stdout, res.stdout + res.stderr
    assert "exact weighted average of the updates" in res.stdout  # merge --help says which methods are exact
