"""Loading a causal LM for generation (`hf/` models) or training (`perrecbench train`): a hub id, a local checkpoint, or a GGUF file.

A GGUF-loaded model is dequantised to plain tensors but keeps transformers' quantizer
state, and with it `save_pretrained` refuses and TRL refuses to train ("quantized with
GGUF"). `plain_model` clears that state; `convert_gguf` writes a plain checkpoint once,
which then reloads in about a second instead of dequantising again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import ConfigError, ModelError

#: what makes a directory a LoRA adapter (PEFT's file name)
ADAPTER_CONFIG = "adapter_config.json"


def torch_dtype(name: str | None) -> Any:
    import torch

    table = {None: None, "auto": "auto", "float32": torch.float32, "fp32": torch.float32,
             "bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}
    if name not in table:
        raise ConfigError(f"dtype {name!r}: choose from auto, float32, bfloat16, float16")
    return table[name]


def named_by_path(model: str) -> bool:
    """A model named by a local path (`./m`, `../m`, `/m`, `~/m`, `m.gguf`, `a/b/c`), which
    cannot be a hub id (`name` or `namespace/name`)."""
    return model.startswith((".", "/", "~")) or model.endswith(".gguf") or model.count("/") > 1 or "\\" in model


def check_model_path(model: str) -> None:
    """A model named by a local path that does not exist is a clear error here, not the hub
    client's complaint about the form of a repo id."""
    if named_by_path(model) and not Path(model).expanduser().exists():
        raise ConfigError(f"model {model}: no such file or directory (a local checkpoint directory or "
                          ".gguf file, or a hub id such as HuggingFaceTB/SmolLM2-135M-Instruct)")


def _source(model: str, gguf_file: str | None) -> dict[str, Any]:
    check_model_path(model)
    path = Path(model).expanduser()
    if gguf_file is None and path.suffix == ".gguf" and path.is_file():
        return {"pretrained_model_name_or_path": str(path.parent), "gguf_file": path.name}
    kw: dict[str, Any] = {"pretrained_model_name_or_path": str(path) if path.exists() else model}
    if gguf_file:
        kw["gguf_file"] = gguf_file
    return kw


def load_tokenizer(model: str, gguf_file: str | None = None, trust_remote_code: bool = False) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(**_source(model, gguf_file), trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the tokenizer of {model}: {_first_line(exc)}") from None


def load_causal_lm(model: str, gguf_file: str | None = None, dtype: Any = None,
                   trust_remote_code: bool = False, **kwargs: Any) -> Any:
    """The model, with any GGUF quantizer state cleared (trainable and savable)."""
    from transformers import AutoModelForCausalLM

    src = _source(model, gguf_file)
    if dtype is not None:
        kwargs["dtype"] = dtype
    try:
        lm = AutoModelForCausalLM.from_pretrained(**src, trust_remote_code=trust_remote_code, **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load {model}: {_first_line(exc)}") from None
    return plain_model(lm) if "gguf_file" in src else lm


def plain_model(lm: Any) -> Any:
    """Forget that `lm` came from GGUF: its tensors are already dequantised."""
    lm.hf_quantizer = None
    lm.is_quantized = False
    if hasattr(lm.config, "quantization_config"):
        del lm.config.quantization_config
    return lm


def convert_gguf(gguf_path: Path | str, out_dir: Path | str) -> Path:
    """A plain checkpoint (model, tokenizer, chat template) of a GGUF file."""
    gguf_path, out_dir = Path(gguf_path), Path(out_dir)
    tok = load_tokenizer(str(gguf_path))
    lm = load_causal_lm(str(gguf_path))
    out_dir.mkdir(parents=True, exist_ok=True)
    lm.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return out_dir


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
