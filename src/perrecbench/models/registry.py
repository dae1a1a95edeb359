"""Model strings -> recommenders: `baseline/<name>`, and `<backend>/<model>` for every LLM
backend in `llm.providers` (openai, anthropic, ...).

Adding a baseline touches its module plus one line in `baselines.BASELINES`; adding an
LLM backend, its provider module plus one line in `llm.providers._PROVIDERS`.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .base import Recommender


def _llm_backends() -> tuple[str, ...]:
    from .llm.providers import names

    return names()


def create_model(spec: str, options: dict[str, Any] | None = None) -> Recommender:
    prefix, sep, name = spec.partition("/")
    backends = _llm_backends()
    if not sep or not name or (prefix != "baseline" and prefix not in backends):
        kinds = ", ".join(["baseline/<name>", *(f"{b}/<model>" for b in backends)])
        raise ConfigError(f"unknown model {spec!r}: use {kinds}")
    if prefix == "baseline":
        from .baselines import create_baseline

        return create_baseline(name, dict(options or {}))
    from .llm.recommender import create_llm_recommender

    return create_llm_recommender(prefix, name, dict(options or {}))


def is_llm(spec: str) -> bool:
    return not spec.startswith("baseline/")


def variant_for_config(spec: str, config: dict[str, Any]) -> str:
    """The variant label a model's recommender gives a run recorded with `config` (for
    run manifests written before manifests carried the label)."""
    if spec.startswith("baseline/"):
        from .baselines import BASELINES

        cls = BASELINES.get(spec.partition("/")[2])
        return "" if cls is None else cls.variant_of(config)
    if "profile" not in config:  # not an LLM run of ours (e.g. imported results)
        return ""
    from .llm.options import variant_from_config

    return variant_from_config(config)


def adapter_label(config: dict[str, Any]) -> str:
    """The adapter part of an LLM run's variant ("" for none): added to the label of runs
    recorded before the variant named it."""
    from .llm.options import adapter_label as label

    return label(config)
