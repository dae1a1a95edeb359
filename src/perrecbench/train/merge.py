"""Merging LoRA adapters: the release's naive average, the exact average, and PEFT's methods.

* `naive` (the release): the element-wise weighted average of each A and of each B.
  The update of the result, avg(B) @ avg(A), is not the average of the updates B_i @ A_i.
* `exact`: PEFT's `add_weighted_adapter(..., combination_type="cat")`, which stacks the
  inputs' (weight x scaling)-scaled A matrices and their B matrices into one adapter of
  rank r1 + r2 + ... whose update is exactly sum_i w_i dW_i. A plain LoRA adapter:
  loadable by PEFT and by vLLM `--lora-modules` (vLLM's max LoRA rank must admit it).
* every other PEFT combination type by its PEFT name, run by PEFT: `linear`, `svd`,
  `ties`, `ties_svd`, `dare_linear`, `dare_ties`, `dare_linear_svd`, `dare_ties_svd`,
  `magnitude_prune`, `magnitude_prune_svd`. None of them is the average of the updates
  (measured: relative error 0.5-1.0 for `linear`, `ties`, `dare_linear`,
  `magnitude_prune` even at density 1); `svd` approaches it only when its rank is the
  full stacked rank (`--svd-rank`).

Weights are normalised to sum to 1 (the average; default equal weights).
`full_model` writes base + merged update as plain weights (PEFT `merge_and_unload`).
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..locking import locked
from .lora_weights import CONFIG, WEIGHTS, LoraAdapter, read_adapter, relative_error

EXACT = "exact"
NAIVE = "naive"
PEFT_TYPES = ("linear", "svd", "ties", "ties_svd", "dare_linear", "dare_ties", "dare_linear_svd",
              "dare_ties_svd", "magnitude_prune", "magnitude_prune_svd")
METHODS = (NAIVE, EXACT) + PEFT_TYPES
#: whether a method's update is the weighted average of the inputs' updates
IS_EXACT_AVERAGE = {NAIVE: False, EXACT: True, **{m: False for m in PEFT_TYPES}}
_NEEDS_DENSITY = {"ties", "ties_svd", "dare_linear", "dare_ties", "dare_linear_svd", "dare_ties_svd",
                  "magnitude_prune", "magnitude_prune_svd"}


@dataclass
class MergeReport:
    method: str
    inputs: list[str]
    weights: list[float]
    out: str
    rank: int
    modules: int
    #: largest relative error of the result's update against sum_i w_i dW_i, over modules
    max_rel_error_vs_update_average: float | None = None
    full_model: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def normalised_weights(weights: Sequence[float] | None, n: int) -> list[float]:
    if weights is None:
        return [1.0 / n] * n
    if len(weights) != n:
        raise ConfigError(f"{len(weights)} weights for {n} adapters")
    total = float(sum(weights))
    if not math.isfinite(total) or total <= 0 or any(w < 0 for w in weights):  # nan and inf too
        raise ConfigError("weights must be finite and non-negative with a positive sum")
    return [float(w) / total for w in weights]


def _same_layout(adapters: list[LoraAdapter], need_same_rank: bool) -> None:
    first = adapters[0]
    for a in adapters[1:]:
        if a.modules != first.modules:
            raise ConfigError(f"{a.path} adapts other modules than {first.path}")
        if need_same_rank and (a.config["r"], a.config["lora_alpha"]) != (first.config["r"], first.config["lora_alpha"]):
            raise ConfigError(f"naive averaging needs one rank and alpha: {first.path} has r {first.config['r']}, "
                              f"alpha {first.config['lora_alpha']}; {a.path} has r {a.config['r']}, "
                              f"alpha {a.config['lora_alpha']}")
        if a.config.get("base_model_name_or_path") != first.config.get("base_model_name_or_path"):
            raise ConfigError(f"{a.path} and {first.path} were trained on different base models")


def naive_merge(adapters: list[LoraAdapter], weights: list[float], out: Path) -> None:
    """The release's merge: average A with A and B with B, element-wise."""
    from safetensors.torch import save_file

    _same_layout(adapters, need_same_rank=True)
    merged = {k: sum(w * a.tensors[k].float() for a, w in zip(adapters, weights)).contiguous()
              for k in adapters[0].tensors}
    out.mkdir(parents=True, exist_ok=True)
    save_file(merged, str(out / WEIGHTS), metadata={"format": "pt"})
    (out / CONFIG).write_text(json.dumps(adapters[0].config, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def load_base(base: str, dtype: str = "auto") -> Any:
    from ..models.llm.hf_loading import load_causal_lm, torch_dtype

    return load_causal_lm(base, None, torch_dtype(dtype))


def peft_merge(adapters: list[LoraAdapter], weights: list[float], method: str, out: Path, base_model: Any,
               density: float | None = None, svd_rank: int | None = None) -> Any:
    """`exact` (PEFT `cat`) or a PEFT combination type; returns the PeftModel holding "merged"."""
    from peft import PeftModel

    _same_layout(adapters, need_same_rank=False)
    kind = "cat" if method == EXACT else method
    names = [f"in{i}" for i in range(len(adapters))]
    model = PeftModel.from_pretrained(base_model, str(adapters[0].path), adapter_name=names[0])
    for name, a in zip(names[1:], adapters[1:]):
        model.load_adapter(str(a.path), adapter_name=name)
    kw: dict[str, Any] = {}
    if kind in _NEEDS_DENSITY:
        kw["density"] = 1.0 if density is None else density
    if svd_rank is not None:
        kw["svd_rank"] = svd_rank
    try:
        model.add_weighted_adapter(names, list(weights), "merged", combination_type=kind, **kw)
    except ValueError as exc:
        raise ConfigError(f"PEFT cannot merge these adapters with {method}: {exc}") from None
    model.eval()  # an adapter added by PEFT starts with its dropout in training mode
    for name in names:
        model.delete_adapter(name)
    model.set_adapter("merged")
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp), selected_adapters=["merged"])
    src = tmp / "merged" if (tmp / "merged").is_dir() else tmp
    out.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.is_file():
            shutil.move(str(f), out / f.name)
    shutil.rmtree(tmp, ignore_errors=True)
    return model


def update_error(merged: LoraAdapter, adapters: list[LoraAdapter], weights: list[float]) -> float:
    """Largest relative error, over modules, of the merged update against sum_i w_i dW_i."""
    worst = 0.0
    for m in adapters[0].modules:
        want = sum(w * a.delta(m) for a, w in zip(adapters, weights))
        worst = max(worst, relative_error(merged.delta(m), want))
    return worst


@locked("out", "full_model")
def merge(inputs: Sequence[Path | str], method: str, out: Path, weights: Sequence[float] | None = None,
          full_model: Path | None = None, base: str | None = None, dtype: str = "auto",
          density: float | None = None, svd_rank: int | None = None) -> MergeReport:
    """Merge `inputs` into the adapter `out` (and, with `full_model`, a full checkpoint)."""
    if method not in METHODS:
        raise ConfigError(f"unknown merge method {method!r}; choose from {', '.join(METHODS)}")
    if len(inputs) < 2:
        raise ConfigError("merging needs two or more adapters")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"{out} exists and is not empty; choose another --out")
    adapters = [read_adapter(p) for p in inputs]
    w = normalised_weights(weights, len(adapters))
    base = base or adapters[0].config.get("base_model_name_or_path")
    if not base:
        raise ConfigError("the adapters do not name their base model; pass --base-model")
    base_model = None
    if method == NAIVE:
        naive_merge(adapters, w, out)
    else:
        base_model = peft_merge(adapters, w, method, out, load_base(base, dtype), density, svd_rank)
    _copy_tokenizer(adapters[0].path, out)
    merged = read_adapter(out)
    report = MergeReport(method, [str(p) for p in inputs], w, str(out), int(merged.config["r"]),
                         len(merged.modules), update_error(merged, adapters, w))
    if full_model is not None:
        write_full_model(base, out, Path(full_model), dtype)
        report.full_model = str(full_model)
    (out / "merge_report.json").write_text(json.dumps(report.__dict__, indent=2, sort_keys=True) + "\n",
                                           encoding="utf-8")
    del base_model
    return report


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                   "tokenizer.model", "vocab.json", "merges.txt")


def _copy_tokenizer(src: Path, out: Path) -> None:
    """The first input's tokenizer (saved by `perrecbench train`) travels with the merge."""
    for name in TOKENIZER_FILES:
        if (src / name).is_file() and not (out / name).exists():
            shutil.copy2(src / name, out / name)


def write_full_model(base: str, adapter: Path, out: Path, dtype: str = "auto") -> None:
    """Base weights with the adapter's update merged in, as a plain checkpoint (+ tokenizer)."""
    from peft import PeftModel

    from ..models.llm.hf_loading import load_tokenizer

    model = PeftModel.from_pretrained(load_base(base, dtype), str(adapter))
    model.eval()
    full = model.merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    full.save_pretrained(str(out))
    tok_src = str(adapter) if (adapter / "tokenizer_config.json").exists() else base
    load_tokenizer(tok_src).save_pretrained(str(out))
