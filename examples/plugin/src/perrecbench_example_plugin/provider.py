"""An installable LLM provider: the entry point `example-first` names `FirstAnswer`, so
`--model example-first/<model>` runs through PerRecBench's LLM runner (prompts, parsing,
retries, cache, call logs, every LLM option) with this class sending the requests.

A real provider calls its API in `generate`; this one answers without a network (the
first user first, ratings of 3), so the example runs anywhere. The contract is
`perrecbench.models.llm.providers.base.ModelAPI`: it is constructed as
`cls(model, base_urls, options, concurrency)` (`options` an instance of `Options`,
already validated), `endpoint` names where answers come
from (part of the cache key), `generate` returns a `ProviderOutput` or raises a
`CallError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from perrecbench.constants import DEFAULT_CONCURRENCY
from perrecbench.models.llm.providers.base import ModelAPI, ProviderOutput


class FirstAnswerOptions(BaseModel):
    """The provider's own `--option key=value` settings (unknown keys are rejected)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    rating: float = 3.0


class FirstAnswer(ModelAPI):
    backend = "example-first"
    Options = FirstAnswerOptions

    def __init__(self, model: str, base_urls: Sequence[str] | None = None, options: Any = None,
                 concurrency: int = DEFAULT_CONCURRENCY) -> None:
        super().__init__(model, base_urls, options, concurrency)
        self.opts = options if isinstance(options, FirstAnswerOptions) else FirstAnswerOptions()

    @property
    def endpoint(self) -> str:
        return f"example-first:{self.model}:rating={self.opts.rating}"

    @property
    def local(self) -> bool:
        return True  # free: no key, no cost

    def output_config(self) -> dict[str, Any]:
        return {"rating": self.opts.rating}

    def check(self) -> None:
        return None  # no SDK, no key

    async def generate(self, messages: list[dict[str, str]], config: Any, seed: int | None) -> ProviderOutput:
        prompt = "\n".join(str(m.get("content", "")) for m in messages)
        if "predicted_ranking" in prompt:
            n = max([int(x) for x in re.findall(r"\bUser(\d+)\b", prompt)] or [2])
            text = json.dumps({"predicted_ranking": list(range(1, n + 1))})
        elif "User A" in prompt and "User B" in prompt:
            text = "[User A]"
        else:
            text = json.dumps({"predicted_rating": self.opts.rating})
        return ProviderOutput(text=text, prompt_tokens=len(prompt) // 4, completion_tokens=len(text) // 4,
                              finish_reason="stop", model=self.model)
