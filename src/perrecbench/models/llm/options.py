"""What `perrecbench run` can set for an LLM, validated; the run's config and variant label.

Options shared by every provider live in `LLMOptions`; options that only one provider
has (the openai backend's HTTP transport, a local model's adapter...) live in that
provider's own `Options` class. `split_options` hands each key to its owner, so an
unknown or mistyped option is an error naming both lists, never a silent default.
"""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ...errors import ConfigError, validation_message

JSON_MODES = {"off": None, "object": "json_object", "schema": "json_schema", "object-schema": "json_object_schema"}
#: option names of earlier versions -> today's
RENAMED = {"max_parse_retries": "max_resamples"}


class LLMOptions(BaseModel):
    """Options every LLM backend takes; unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # where and how to send requests (do not change answers)
    base_url: list[str] = Field(default_factory=list)
    max_concurrency: int = Field(default=8, ge=1)
    rpm: float | None = Field(default=None, gt=0)
    tpm: float | None = Field(default=None, gt=0)
    timeout: float = Field(default=120.0, gt=0)
    max_attempts: int = Field(default=6, ge=1)  # tries of one request (retries on 429/5xx/timeouts)
    retry_base_delay: float = Field(default=1.0, ge=0)
    retry_max_delay: float = Field(default=60.0, ge=0)
    cache: bool = True
    cache_path: str | None = None
    prices: str | None = None
    log_prompts: bool = False
    # decoding (None = the release's default for the method)
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: list[str] | None = None
    json_mode: Literal["off", "object", "schema", "object-schema"] = "off"
    # method variants
    samples: int = Field(default=1, ge=1)
    max_resamples: int = Field(default=5, ge=0)  # new samples of an answer that did not parse
    pair_strategy: Literal["heap", "allpairs"] = "heap"
    cot: bool = False
    shots: int = Field(default=0, ge=0)
    shots_seed: int = 0
    profile: str = "none"
    k: int = Field(default=4, ge=0)
    rel_rating: bool = False
    prompt_set: str = "default"
    prompt_variant: int | None = Field(default=None, ge=0)  # rating families: template 0-3 (None = 0)
    templates: str | None = None
    describe_items: bool = False


def split_options(options: dict[str, Any], provider_options: type[BaseModel],
                  backend: str = "backend") -> tuple[LLMOptions, BaseModel]:
    """(shared options, the provider's options) from one `--option` dict."""
    opts = {RENAMED.get(k, k): v for k, v in options.items()}
    if isinstance(opts.get("base_url"), str):
        opts["base_url"] = [opts["base_url"]]
    if isinstance(opts.get("stop"), str):
        opts["stop"] = [opts["stop"]]
    mine = {k: opts.pop(k) for k in list(opts) if k in provider_options.model_fields}
    unknown = sorted(k for k in opts if k not in LLMOptions.model_fields)
    if unknown:
        raise ConfigError(
            f"unknown LLM option(s) {', '.join(unknown)}; the {backend} backend's own options are: "
            f"{', '.join(provider_options.model_fields) or 'none'}"
        )
    try:
        shared = LLMOptions(**opts)
    except ValidationError as exc:
        raise ConfigError(f"bad LLM option(s): {validation_message(exc)}") from None
    try:
        own = provider_options(**mine)
    except ValidationError as exc:
        raise ConfigError(f"bad {backend} option(s): {validation_message(exc)}") from None
    return shared, own


#: the settings a run's config records, with their defaults (the variant names departures)
_DEFAULTS = {name: f.default for name, f in LLMOptions.model_fields.items()}


def variant_from_config(config: dict[str, Any]) -> str:
    """A short label for how an LLM run was set up, from its recorded config: the profile
    source always ("no profile", "offline profile", "profile: <label>"), then every
    method setting that differs from its default (official prompts, CoT, shots, ...).

    The recommender labels its own runs with this; it also labels runs recorded before
    manifests carried a label."""
    profile = str(config.get("profile") or "none")
    parts = ["no profile" if profile == "none" else "offline profile" if profile == "offline"
             else f"profile: {profile}"]
    if config.get("prompt_set", _DEFAULTS["prompt_set"]) != _DEFAULTS["prompt_set"]:
        variant = config.get("prompt_variant")
        parts.append(f"{config['prompt_set']}{'' if variant is None else f' #{variant}'} prompts")
    if config.get("cot"):
        parts.append("CoT")
    if config.get("shots"):
        parts.append(f"{config['shots']}-shot")
    if (config.get("samples") or 1) > 1:
        parts.append(f"{config['samples']} samples")
    if config.get("pair_strategy", _DEFAULTS["pair_strategy"]) != _DEFAULTS["pair_strategy"]:
        parts.append(str(config["pair_strategy"]))
    if config.get("k", _DEFAULTS["k"]) != _DEFAULTS["k"]:
        parts.append(f"k={config['k']}")
    if config.get("rel_rating"):
        parts.append("relative ratings")
    if config.get("describe_items"):
        parts.append("item descriptions")
    if adapter := adapter_label(config):
        parts.append(adapter)
    return ", ".join(parts)


def adapter_label(config: dict[str, Any]) -> str:
    """The LoRA adapter a run put on its model (`hf/... --option adapter=DIR`), as the run
    recorded it: the directory's name and the start of the hash of its files (the cache
    key's), so the base model and each adapter are told apart; "" without one."""
    provider = config.get("provider")
    if not isinstance(provider, dict) or not provider.get("adapter"):
        return ""
    name = PurePath(str(provider["adapter"])).name
    found = re.search(r"(?:^|;)adapter=([0-9a-f]+)", str(provider.get("endpoint") or ""))
    return f"adapter {name}" + (f" #{found.group(1)[:8]}" if found else "")
