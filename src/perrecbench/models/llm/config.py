"""Generation options: every field optional so configs layer (defaults < method < user)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ResponseFormat = Literal["json_object", "json_schema", "json_object_schema"]

#: fields that change what the model answers -- the only ones in the cache key
OUTPUT_FIELDS = ("temperature", "top_p", "max_tokens", "seed", "stop", "response_format", "json_schema")


class GenerateConfig(BaseModel):
    """Decoding options for one request.

    `n` is the number of self-consistency samples; each sample is its own request
    (llama.cpp and some vLLM builds ignore the API's `n`), told apart by a sample index
    in the cache key. `timeout` (seconds, whole request) does not change the answer,
    so it is not part of the cache key.

    response_format: `json_object` sends {"type": "json_object"}; `json_schema` sends
    OpenAI/vLLM structured output {"type": "json_schema", ...}; `json_object_schema`
    sends {"type": "json_object", "schema": ...}, the form llama.cpp's server accepts.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(default=None, ge=1)
    seed: int | None = None
    n: int | None = Field(default=None, ge=1)
    stop: tuple[str, ...] | None = None
    response_format: ResponseFormat | None = None
    json_schema: dict[str, Any] | None = None
    timeout: float | None = Field(default=None, gt=0.0)

    def merge(self, other: GenerateConfig | None) -> GenerateConfig:
        """A copy where every field set (not None) in `other` wins."""
        if other is None:
            return self
        upd = {k: v for k, v in other.model_dump().items() if v is not None}
        return self.model_copy(update=upd)

    def output_options(self) -> dict[str, Any]:
        """The output-affecting options that are set, for cache keys and run manifests."""
        d = self.model_dump()
        return {k: (list(d[k]) if k == "stop" else d[k]) for k in OUTPUT_FIELDS if d[k] is not None}


#: the release's decoding: temperature 0.1, top_p 1, 800 new tokens (512 for pairwise)
PAPER_DEFAULTS = GenerateConfig(temperature=0.1, top_p=1.0, max_tokens=800, n=1, timeout=120.0)
METHOD_DEFAULTS = {"pair": GenerateConfig(max_tokens=512)}


def defaults_for(method: str) -> GenerateConfig:
    return PAPER_DEFAULTS.merge(METHOD_DEFAULTS.get(method))
