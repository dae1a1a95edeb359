"""What `perrecbench run` can set for an LLM, declared once and validated; the run's variant label.

Options shared by every provider live in `LLMOptions`; options that only one provider
has (the openai backend's HTTP transport, a local model's adapter...) live in that
provider's own `Options` class. `split_options` hands each key to its owner, so an
unknown or mistyped option is an error naming both lists, never a silent default.
"""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ...constants import DEFAULT_CONCURRENCY
from ...errors import ConfigError, validation_message
from ..options import Flag, declared, names, option

JSON_MODES = {"off": None, "object": "json_object", "schema": "json_schema", "object-schema": "json_object_schema"}
#: option names of earlier versions -> today's
RENAMED = {"max_parse_retries": "max_resamples"}


#: the flags of both `run` and `sweep` (a sweep's cells share them)
_BOTH = ("run", "sweep")


class LLMOptions(BaseModel):
    """Options every LLM backend takes; unknown keys are rejected. Each is declared once
    here (`models.options.option`): its role, default, help and flag. The run's config,
    the sweep's axes, the SFT prompt config and the CLI's LLM flags derive from these."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # where and how fast requests go (never change the answers)
    base_url: list[str] = option(role="transport", default_factory=list,
                                 help="OpenAI-compatible server; repeat for replicas",
                                 flag=Flag(_BOTH, names=("--base-url",)))
    max_concurrency: int = option(DEFAULT_CONCURRENCY, role="transport", ge=1,
                                  help="requests in flight (the runner's --max-concurrency)")
    rpm: float | None = option(None, role="transport", gt=0, help="requests per minute cap",
                               flag=Flag(_BOTH, check="positive"))
    tpm: float | None = option(None, role="transport", gt=0, help="tokens per minute cap",
                               flag=Flag(_BOTH, check="positive"))
    timeout: float = option(120.0, role="transport", gt=0, help="seconds per request",
                            flag=Flag(_BOTH, check="positive"))
    max_attempts: int = option(6, role="transport", ge=1, help="tries per request on 429/5xx/timeouts",
                               flag=Flag(_BOTH, min=1))
    retry_base_delay: float = option(1.0, role="transport", ge=0, help="first retry's delay, seconds")
    retry_max_delay: float = option(60.0, role="transport", ge=0, help="longest retry delay, seconds")
    cache: bool = option(True, role="transport", help="neither read nor write the response cache",
                         flag=Flag(_BOTH, names=("--no-cache",), invert=True))
    cache_path: str | None = option(None, role="transport",
                                    help="cache file (default $PERRECBENCH_HOME/cache.sqlite)",
                                    flag=Flag(_BOTH, path=True))
    prices: str | None = option(None, role="transport",
                                help="JSON price file: model -> (input, output) USD per 1M tokens",
                                flag=Flag(_BOTH, path=True, panel="Dry run"))
    log_prompts: bool = option(False, role="transport", help="also write prompts and answers to calls.jsonl",
                               flag=Flag())
    # decoding (None = the release's default for the method; recorded per method as `generation`)
    temperature: float | None = option(None, role="decoding", help="sampling temperature",
                                       flag=Flag(min=0, max=2, check="finite"))
    top_p: float | None = option(None, role="decoding", help="nucleus sampling", flag=Flag(check="fraction"))
    max_tokens: int | None = option(None, role="decoding", help="most new tokens", flag=Flag(min=1))
    seed: int | None = option(None, role="decoding", help="request seed (sample i gets seed+i)",
                              flag=Flag(min=0))
    stop: list[str] | None = option(None, role="decoding", sweep=False, help="stop sequence (repeatable)",
                                    flag=Flag(names=("--stop",)))
    json_mode: Literal["off", "object", "schema", "object-schema"] = option(
        "off", role="decoding", help="off, object, schema (OpenAI/vLLM) or object-schema (llama.cpp)", flag=Flag())
    # how answers are made
    samples: int = option(1, role="method", ge=1, help="self-consistency samples (majority vote)",
                          flag=Flag(min=1))
    max_resamples: int = option(5, role="method", ge=0, help="new samples of an answer that did not parse")
    pair_strategy: Literal["heap", "allpairs"] = option("heap", role="method", help="heap (as released) or allpairs",
                                                        flag=Flag())
    # what is asked
    cot: bool = option(False, role="prompt", help="chain-of-thought prompts", flag=Flag(names=("--cot",)))
    shots: int = option(0, role="prompt", ge=0, help="few-shot demonstrations", flag=Flag(min=0))
    shots_seed: int = option(0, role="prompt", help="seed of the few-shot demonstrations' choice")
    profile: str = option("none", role="prompt", help="none, offline or a profiles label", flag=Flag())
    k: int = option(4, role="prompt", ge=0, help="history items per user", flag=Flag(names=("--k",), min=0))
    rel_rating: bool = option(False, role="prompt", help="show relative ratings", flag=Flag(names=("--rel-rating",)))
    prompt_set: str = option("default", role="prompt", help="default, official, official-sample-run, or a rating "
                             "family: rating-wang, rating-liu, rating-dai, rating-bookgpt", flag=Flag())
    #: recorded only for the rating families (`LLMRecommender.config`), so other runs keep
    #: the identity they had
    prompt_variant: int | None = option(None, role="prompt", identity=False, ge=0,
                                        help="rating families: template variant 0-3 (unset: 0)",
                                        flag=Flag(min=0, max=3))
    templates: str | None = option(None, role="prompt", identity=False, sweep=False,
                                   help="the authors' template dir (official and rating-* prompt sets)",
                                   flag=Flag(_BOTH, path=True))
    describe_items: bool = option(False, role="prompt", help="include item descriptions",
                                  flag=Flag(names=("--describe-items",)))


#: the options a run's config records (its identity), besides `generation`
IDENTITY = names(LLMOptions, identity=True)
#: the options that decide the prompts (the SFT data's prompt config)
PROMPT_IDENTITY = names(LLMOptions, role="prompt", identity=True)
#: the options a sweep may vary
SWEEP_AXES = names(LLMOptions, sweep=True)


def release_defaults(name: str) -> dict[str, Any]:
    """A decoding option's value per method when the user leaves it unset (the release's
    decoding, `config.defaults_for`); {} when the release sets none."""
    from ...constants import METHODS
    from .config import defaults_for

    out = {m: getattr(defaults_for(m), name, None) for m in METHODS}
    return {m: v for m, v in out.items() if v is not None}


def unset_value(name: str) -> Any:
    """What an option left unset means in every method: its default, or for a decoding
    option the release's value when it is one for every method (temperature 0.1, top_p 1;
    max_tokens differs by method, so it stays None)."""
    default = LLMOptions.model_fields[name].get_default(call_default_factory=True)
    if default is None:
        from ...constants import METHODS

        per_method = release_defaults(name)
        values = set(per_method.values())
        if len(per_method) == len(METHODS) and len(values) == 1:
            return values.pop()
    return default


def default_text(name: str) -> str:
    """How help texts state an option's default: `120`, `4`, `0.1 as released`, `800,
    pair 512 as released` (the release's decoding per method); "" for none worth saying
    (switches, lists, unset)."""
    spec = declared(LLMOptions)[name]
    value = spec.default
    if value is None and spec.role == "decoding":
        per_method = release_defaults(name)
        if not per_method:
            return ""
        common = max(set(per_method.values()), key=list(per_method.values()).count)
        rest = [f"{m} {_fmt(v)}" for m, v in per_method.items() if v != common]
        return ", ".join([_fmt(common), *rest]) + " as released"
    if value is None or isinstance(value, (bool, list)):
        return ""
    return _fmt(value)


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


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
