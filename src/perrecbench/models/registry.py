"""Model strings -> recommenders. `baseline/<name>`, `openai/<model>`, `anthropic/<model>`,
`hf/<path or hub id>`.

Adding a backend touches its own module plus one line in `_FACTORIES`.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .base import Recommender


def _baseline(name: str, options: dict[str, Any]) -> Recommender:
    from .baselines import create_baseline

    return create_baseline(name, options)


def _llm(provider: str):
    def factory(name: str, options: dict[str, Any]) -> Recommender:
        from .llm.recommender import create_llm_recommender

        return create_llm_recommender(provider, name, options)

    return factory


_FACTORIES = {
    "baseline": _baseline,
    "openai": _llm("openai"),
    "anthropic": _llm("anthropic"),
    "hf": _llm("hf"),
}


def create_model(spec: str, options: dict[str, Any] | None = None) -> Recommender:
    prefix, sep, name = spec.partition("/")
    if not sep or not name or prefix not in _FACTORIES:
        raise ConfigError(
            f"unknown model {spec!r}: use baseline/<name>, openai/<model>, anthropic/<model> or hf/<path or hub id>"
        )
    return _FACTORIES[prefix](name, dict(options or {}))
