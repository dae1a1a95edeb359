"""`perrecbench train` configuration: a YAML file plus `--set key=value`, checked before training.

The defaults are the release's recipe (SPEC 6): LoRA r 16, alpha 16, dropout 0.05 on the
seven attention and MLP projections; lr 1e-5, 2 epochs, cosine schedule, warmup 0.1,
max length 7000, bf16 where the hardware has it, seed 42, batch 4 x accumulation 4,
loss on the assistant's tokens only. Every key is validated (unknown keys, wrong types
and impossible values are errors naming the key), so a typo never trains with a default.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ConfigError, validation_message
from ..models.llm.hf_loading import check_model_path
from ..parsing import parse_key_values, yaml_or_text

PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
#: shipped example configs (package data), usable by name with --config
CONFIG_DIR = Path(__file__).with_name("configs")


class LoraSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    r: int = Field(default=16, ge=1)
    alpha: float = Field(default=16, gt=0)
    dropout: float = Field(default=0.05, ge=0, lt=1)
    target_modules: list[str] = Field(default_factory=lambda: list(PROJECTIONS), min_length=1)


class TrainConfig(BaseModel):
    """One training run; field names are the YAML keys (`lora.r` etc. for --set)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="hub id or local directory of a causal LM")
    gguf_file: str | None = Field(default=None, description="load this GGUF file inside `model`")
    dataset: str = Field(description="sft-data directory, a saved dataset, or a .jsonl file")
    dataset_split: str | None = None
    eval_dataset: str | None = Field(default=None, description="held-out rows (sft-data --split heldout)")
    eval_split: str | None = None
    chat_template: str = Field(default="auto", description="auto, a shipped name, or a .jinja file")
    lora: LoraSettings = Field(default_factory=LoraSettings)
    learning_rate: float = Field(default=1e-5, gt=0)
    epochs: float = Field(default=2.0, gt=0)
    max_steps: int = Field(default=-1, description="-1: as many as the epochs take")
    lr_scheduler: str = "cosine"
    warmup_ratio: float = Field(default=0.1, ge=0, lt=1)
    max_length: int = Field(default=7000, ge=16)
    batch_size: int = Field(default=4, ge=1, description="per device")
    gradient_accumulation: int = Field(default=4, ge=1)
    weight_decay: float = Field(default=0.0, ge=0)
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    gradient_checkpointing: bool | Literal["auto"] = "auto"
    seed: int = 42
    logging_steps: int = Field(default=1, ge=1)
    save_steps: int = Field(default=100, ge=1)
    save_total_limit: int | None = Field(default=2, ge=1)
    eval_steps: int | None = Field(default=None, ge=1)
    attn_implementation: str | None = None
    trust_remote_code: bool = False
    report_to: str = "none"
    #: anything else TRL's SFTConfig takes, passed through (SFTConfig checks it)
    sft_args: dict[str, Any] = Field(default_factory=dict)


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = tree
    for k in keys[:-1]:
        nxt = node.setdefault(k, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"--set {dotted}: {k} is not a section")
        node = nxt
    node[keys[-1]] = value


def parse_overrides(pairs: list[str]) -> list[tuple[str, Any]]:
    """`key=value` pairs; values are YAML scalars/lists (`1e-5`, `true`, `[q_proj, v_proj]`)."""
    return parse_key_values(pairs, "--set", yaml_or_text)


def config_path(name_or_path: str | Path) -> Path:
    """A config file, or the name of a shipped one (`perrecbench train-configs` lists them)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = CONFIG_DIR / f"{name_or_path}.yaml"
    if shipped.is_file():
        return shipped
    names = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml") if not p.stem.startswith("accelerate")))
    raise ConfigError(f"config {name_or_path!r} not found (a YAML file, or one of: {names})")


def load_config(path: str | Path | None, overrides: Sequence[str] = ()) -> TrainConfig:
    """The validated config of `path` (a file or a shipped name) with `--set` overrides
    applied; relative paths in it are read from where the command runs."""
    import yaml

    tree: dict[str, Any] = {}
    if path is not None:
        file = config_path(path)
        try:
            loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{file}: not valid YAML ({exc})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{file}: expected a mapping of settings")
        tree = loaded or {}
    for key, value in parse_overrides(list(overrides)):
        _set(tree, key, value)
    try:
        cfg = TrainConfig(**tree)
    except ValidationError as exc:
        raise ConfigError(f"bad training config: {validation_message(exc)}") from None
    check_model_path(cfg.model)
    return cfg


def config_json(cfg: TrainConfig) -> str:
    return json.dumps(cfg.model_dump(), indent=2, sort_keys=True)
