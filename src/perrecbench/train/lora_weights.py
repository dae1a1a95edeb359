"""A LoRA adapter's tensors and weight updates, read from its files (no base model needed).

For a module with LoRA matrices A (r x in) and B (out x r) and scaling alpha / r, the
update of its weight is dW = (alpha / r) * B @ A. These are the quantities the merge
methods are judged by: `exact` must reproduce the weighted average of the inputs' dW;
`naive` averages A and B themselves, which is a different thing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputDataError
from ..models.llm.hf_loading import ADAPTER_CONFIG

CONFIG = ADAPTER_CONFIG
WEIGHTS = "adapter_model.safetensors"


@dataclass
class LoraAdapter:
    path: Path
    config: dict[str, Any]
    tensors: dict[str, Any]  # state-dict name -> tensor

    @property
    def modules(self) -> list[str]:
        return sorted(k[: -len(".lora_A.weight")] for k in self.tensors if k.endswith(".lora_A.weight"))

    def scaling(self, module: str) -> float:
        """alpha / r of a module (per-module patterns honoured)."""
        cfg = self.config
        r = _pattern(cfg.get("rank_pattern") or {}, module, cfg["r"])
        alpha = _pattern(cfg.get("alpha_pattern") or {}, module, cfg["lora_alpha"])
        if cfg.get("use_rslora"):
            return alpha / r ** 0.5
        return alpha / r

    def delta(self, module: str) -> Any:
        """dW of one module, in float64 (so comparisons measure the merge, not rounding)."""
        a = self.tensors[f"{module}.lora_A.weight"].double()
        b = self.tensors[f"{module}.lora_B.weight"].double()
        return self.scaling(module) * (b @ a)


def _pattern(patterns: dict[str, Any], module: str, default: Any) -> Any:
    for key, value in patterns.items():
        if module.endswith(key):
            return value
    return default


def read_adapter(path: Path | str) -> LoraAdapter:
    from safetensors.torch import load_file

    path = Path(path)
    cfg_file, weights = path / CONFIG, path / WEIGHTS
    if not cfg_file.is_file() or not weights.is_file():
        raise InputDataError(f"{path}: not a LoRA adapter directory (needs {CONFIG} and {WEIGHTS})")
    try:
        config = json.loads(cfg_file.read_text(encoding="utf-8"))
    except ValueError:
        raise InputDataError(f"{cfg_file}: not valid JSON") from None
    if config.get("peft_type", "LORA") != "LORA":
        raise InputDataError(f"{path}: a {config.get('peft_type')} adapter, not LoRA")
    return LoraAdapter(path, config, load_file(str(weights)))


def relative_error(got: Any, want: Any) -> float:
    """||got - want|| / ||want|| (Frobenius); 0 when both are zero."""
    num = float((got.double() - want.double()).norm())
    den = float(want.double().norm())
    return num / den if den > 0 else num
