"""Batched chat generation with transformers: the torch side of the `hf` backend.

A batch is rendered with the model's own chat template (generation prompt added),
left-padded and passed to one `model.generate` call. Temperature 0 is greedy. With a
temperature, each row is sampled with its own seeded generator (Gumbel-max over the
temperature-scaled, top-p-filtered logits), so a request's answer depends on its seed
and prompt only, not on which requests shared its batch.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from .base import ProviderOutput

_SYSTEM_RANDOM = random.SystemRandom()


@dataclass(frozen=True)
class GenRequest:
    messages: list[dict[str, str]]
    temperature: float
    top_p: float
    max_tokens: int
    stop: tuple[str, ...]
    seed: int | None


def _seeded_sampler(seeds: list[int], temperature: float, top_p: float, device: Any) -> Any:
    import torch
    from transformers import LogitsProcessor

    gens = [torch.Generator(device=device).manual_seed(s) for s in seeds]

    class SeededSampler(LogitsProcessor):
        """Returns scores whose argmax is a sample of softmax(logits / T) after top-p."""

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            scores = scores.float() / temperature
            if top_p < 1.0:
                ordered, idx = torch.sort(scores, descending=True, dim=-1)
                cum = ordered.softmax(-1).cumsum(-1)
                drop = cum - ordered.softmax(-1) > top_p  # keep the smallest set reaching top_p
                scores = scores.scatter(-1, idx, ordered.masked_fill(drop, float("-inf")))
            noise = torch.stack([
                torch.rand(scores.shape[-1], generator=g, device=device).clamp_(1e-20, 1.0) for g in gens
            ])
            return scores - torch.log(-torch.log(noise))

    return SeededSampler()


class HFEngine:
    """One loaded model (+ optional LoRA adapter) and its tokenizer."""

    def __init__(self, model: str, adapter: str | None = None, gguf_file: str | None = None,
                 dtype: str = "auto", device: str = "auto", trust_remote_code: bool = False):
        self.model_name, self.adapter, self.gguf_file = model, adapter, gguf_file
        self.dtype_name, self.device_name, self.trust_remote_code = dtype, device, trust_remote_code
        self.model: Any = None
        self.tokenizer: Any = None
        self.device: Any = None

    def load(self) -> None:
        if self.model is not None:
            return
        import torch

        from ..hf_loading import load_causal_lm, load_tokenizer

        device = self.device_name
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = self.dtype_name
        if dtype == "auto":
            dtype = "bfloat16" if device.startswith("cuda") and torch.cuda.is_bf16_supported() else "float32"
        if self.adapter and _has_tokenizer(self.adapter):  # `perrecbench train` saves it with the adapter
            tok = load_tokenizer(self.adapter, None, self.trust_remote_code)
        else:
            tok = load_tokenizer(self.model_name, self.gguf_file, self.trust_remote_code)
        tok.padding_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        lm = load_causal_lm(self.model_name, self.gguf_file, getattr(torch, dtype), self.trust_remote_code)
        if self.adapter:
            from peft import PeftModel

            lm = PeftModel.from_pretrained(lm, self.adapter)
        lm.to(device)
        lm.eval()
        self.model, self.tokenizer, self.device = lm, tok, torch.device(device)

    def generate(self, reqs: list[GenRequest]) -> list[ProviderOutput]:
        """One `generate` call for requests that share temperature, top_p, max_tokens and stop."""
        import torch

        self.load()
        tok, lm = self.tokenizer, self.model
        first = reqs[0]
        texts = [tok.apply_chat_template(r.messages, tokenize=False, add_generation_prompt=True) for r in reqs]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        gen_cfg = lm.generation_config.__class__.from_dict(lm.generation_config.to_dict())
        gen_cfg.update(do_sample=False, temperature=None, top_p=None, top_k=None, num_beams=1,
                       max_new_tokens=first.max_tokens, pad_token_id=tok.pad_token_id)
        if gen_cfg.eos_token_id is None:
            gen_cfg.eos_token_id = tok.eos_token_id
        kwargs: dict[str, Any] = {"generation_config": gen_cfg}
        if first.temperature > 0:
            seeds = [r.seed if r.seed is not None else _SYSTEM_RANDOM.randrange(2**31) for r in reqs]
            kwargs["logits_processor"] = [_seeded_sampler(seeds, first.temperature, first.top_p, self.device)]
        if first.stop:
            kwargs.update(stop_strings=list(first.stop), tokenizer=tok)
        with torch.inference_mode():
            out = lm.generate(**enc, **kwargs)
        eos = gen_cfg.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        width = enc["input_ids"].shape[1]
        results = []
        for i, r in enumerate(reqs):
            ids = out[i, width:].tolist()
            cut = next((j for j, t in enumerate(ids) if t in eos_ids), None)
            new = ids if cut is None else ids[:cut]
            text = tok.decode(new, skip_special_tokens=True)
            finish = "stop" if cut is not None else "length"
            for s in r.stop:
                pos = text.find(s)
                if pos >= 0:
                    text, finish = text[:pos], "stop"
            results.append(ProviderOutput(
                text=text, prompt_tokens=int(enc["attention_mask"][i].sum()),
                completion_tokens=len(new) + (cut is not None), finish_reason=finish, model=self.model_name,
                raw={"text": text, "finish_reason": finish, "batch": len(reqs)},
            ))
        return results

    def close(self) -> None:
        self.model = self.tokenizer = None


def _has_tokenizer(path: str) -> bool:
    from pathlib import Path

    return any((Path(path) / f).exists() for f in ("tokenizer.json", "tokenizer_config.json"))
