"""`hf/<path or hub id>`: a transformers model in this process, no server.

For evaluating fine-tuned models where no server runs: `--option adapter=DIR` puts a
LoRA adapter (from `perrecbench train` or `merge`) on the base model. Requests from the
runner are collected into batches (`micro_batch`) and generated with the model's chat
template (`hf_engine`); caching, retries, logging and scoring are the runner's, as for
every backend. Torch and transformers are imported only when the first request that
is not in the cache arrives.

The cache key's endpoint names the model, the adapter by the hash of its files, the
GGUF file and the dtype, so retraining an adapter in place never replays old answers.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .... import failures
from ....constants import DEFAULT_CONCURRENCY
from ....errors import ConfigError, ModelError, install_hint
from ..config import GenerateConfig
from ..hf_loading import ADAPTER_CONFIG
from .base import CallError, ModelAPI, ProviderOutput, short


class HFOptions(BaseModel):
    """The `hf` backend's own `--option`s (the other LLM options apply as for any backend)."""

    model_config = ConfigDict(extra="forbid")

    adapter: str | None = None  # a LoRA adapter directory (PEFT format)
    gguf_file: str | None = None  # a GGUF file inside the model directory
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"  # auto: bf16 on a GPU, else fp32
    device: str = "auto"  # auto: cuda when available, else cpu
    batch_size: int = Field(default=8, ge=1)  # prompts per generate call
    batch_wait_ms: float = Field(default=5.0, ge=0)  # how long a batch waits to fill
    trust_remote_code: bool = False


class HFLocalAPI(ModelAPI):
    backend = "hf"
    Options = HFOptions
    json_mode = False  # generation is free text; answers are parsed like any other

    def __init__(self, model: str, base_urls: Sequence[str] | None = None, options: BaseModel | None = None,
                 concurrency: int = DEFAULT_CONCURRENCY):
        super().__init__(model, base_urls, options, concurrency)
        if base_urls:
            raise ConfigError("the hf backend runs the model in this process; drop --base-url")
        self.opts = options if isinstance(options, HFOptions) else HFOptions()
        self._engine: Any = None
        self._batcher: Any = None
        self._endpoint: str | None = None

    @property
    def endpoint(self) -> str:
        if self._endpoint is None:
            o = self.opts
            parts = [f"hf:{_model_identity(self.model)}"]
            if o.gguf_file:
                parts.append(f"gguf={o.gguf_file}")
            if o.adapter:
                parts.append(f"adapter={_files_hash(Path(o.adapter))}")
            parts.append(f"dtype={o.dtype}")
            self._endpoint = ";".join(parts)
        return self._endpoint

    @property
    def local(self) -> bool:
        return True

    def output_config(self) -> dict[str, Any]:
        """What a run manifest records about this backend (answers depend on it)."""
        o = self.opts
        return {"adapter": str(Path(o.adapter).resolve()) if o.adapter else None, "gguf_file": o.gguf_file,
                "dtype": o.dtype, "endpoint": self.endpoint}

    def check(self) -> None:
        missing = [m for m in ("torch", "transformers") + (("peft",) if self.opts.adapter else ())
                   if importlib.util.find_spec(m) is None]
        if missing:
            raise ModelError(f"the hf backend needs {', '.join(missing)}: {install_hint('train')}")
        if _looks_like_path(self.model) and not Path(self.model).expanduser().exists():
            raise ModelError(f"hf/{self.model}: no such model directory")
        if self.opts.adapter and not (Path(self.opts.adapter) / ADAPTER_CONFIG).is_file():
            raise ModelError(f"adapter {self.opts.adapter}: not a LoRA adapter directory (no {ADAPTER_CONFIG})")

    def _ready(self) -> Any:
        if self._batcher is None:
            from .hf_engine import HFEngine
            from .micro_batch import MicroBatcher

            o = self.opts
            self._engine = HFEngine(self.model, o.adapter, o.gguf_file, o.dtype, o.device, o.trust_remote_code)
            self._batcher = MicroBatcher(self._run_batch, o.batch_size, o.batch_wait_ms / 1000)
        return self._batcher

    def _run_batch(self, reqs: list[Any]) -> list[ProviderOutput]:
        """In the worker thread: load once, then generate; failures become CallErrors."""
        try:
            self._engine.load()
        except ModelError as exc:  # a model that cannot load will not load on the next try
            raise CallError(failures.NOT_FOUND, str(exc)) from None
        try:
            return self._engine.generate(reqs)
        except (RuntimeError, ValueError) as exc:  # e.g. out of memory: the client retries
            raise CallError(failures.SERVER_ERROR, short(f"generation failed: {exc}")) from None

    async def generate(
        self, messages: list[dict[str, str]], config: GenerateConfig, seed: int | None
    ) -> ProviderOutput:
        from .hf_engine import GenRequest

        if config.response_format is not None:
            raise CallError(failures.BAD_REQUEST, "the hf backend has no JSON mode; drop --json-mode")
        req = GenRequest(
            messages=messages, temperature=config.temperature or 0.0,
            top_p=1.0 if config.top_p is None else config.top_p, max_tokens=config.max_tokens or 800,
            stop=tuple(config.stop or ()), seed=seed,
        )
        key = (req.temperature, req.top_p, req.max_tokens, req.stop)
        return await self._ready().submit(req, key)

    async def aclose(self) -> None:
        if self._batcher is not None:
            await self._batcher.aclose()
            self._batcher = None
        if self._engine is not None:
            self._engine.close()
            self._engine = None


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or Path(name).expanduser().exists() or name.count("/") != 1


def _model_identity(name: str) -> str:
    """A hub id as given; a local directory by its path and a hash of its config and the
    ends of its weight files (cheap, and it changes when the weights are rewritten)."""
    path = Path(name).expanduser()
    if not path.exists():
        return name
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    for p in files:
        h.update(p.name.encode())
        size = p.stat().st_size
        h.update(str(size).encode())
        with open(p, "rb") as fh:
            h.update(fh.read(1 << 20))
            if size > 2 << 20:
                fh.seek(-(1 << 20), 2)
                h.update(fh.read())
    return f"{path.resolve()}#{h.hexdigest()[:12]}"


def _files_hash(path: Path) -> str:
    """Hash of an adapter directory's files (small: a LoRA adapter is megabytes)."""
    h = hashlib.sha256()
    for p in sorted(path.iterdir()) if path.is_dir() else []:
        if p.is_file() and (p.name.startswith("adapter_") or p.suffix in (".safetensors", ".bin")):
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]
