"""Providers by name: adding one is a module plus a line in `_PROVIDERS`."""

from __future__ import annotations

from importlib import import_module

from ....errors import ConfigError
from .base import ModelAPI

#: backend -> (module, class); modules import their SDK only when used
_PROVIDERS = {
    "openai": ("openai_api", "OpenAIAPI"),
    "anthropic": ("anthropic_api", "AnthropicAPI"),
    "hf": ("hf_local", "HFLocalAPI"),
}


def provider_option_names(backend: str) -> frozenset[str]:
    """The `--option` keys a backend owns itself (validated by its own options model)."""
    if backend not in _PROVIDERS:
        return frozenset()
    module, cls = _PROVIDERS[backend]
    return getattr(getattr(import_module(f".{module}", __name__), cls), "option_names", frozenset())


def create_provider(backend: str, model: str, base_urls: list[str] | None = None, **transport: object) -> ModelAPI:
    """`transport`: how requests travel (e.g. the openai backend's `http`, `http_workers`);
    a backend rejects settings it does not have."""
    if backend not in _PROVIDERS:
        raise ConfigError(f"unknown LLM backend {backend!r}: use {', '.join(_PROVIDERS)}")
    module, cls = _PROVIDERS[backend]
    return getattr(import_module(f".{module}", __name__), cls)(model, base_urls, **transport)
