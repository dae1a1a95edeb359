"""Providers by name: adding one is a module (or package) plus a line in `_PROVIDERS`.

A provider class implements `base.ModelAPI`, declares its own settings as `Options`
and its capabilities as class attributes; nothing outside the provider branches on its
name. Modules import their SDK only when used.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module
from typing import Any

from pydantic import BaseModel

from ....constants import DEFAULT_CONCURRENCY
from ....errors import ConfigError, validation_message
from .base import ModelAPI

#: backend -> (module, class)
_PROVIDERS = {
    "openai": ("openai", "OpenAIAPI"),
    "anthropic": ("anthropic_api", "AnthropicAPI"),
    "hf": ("hf_local", "HFLocalAPI"),
}


#: provider classes of installed plugins, by entry point name (`models.registry` adds
#: one when its plugin is named)
_PLUGINS: dict[str, type[ModelAPI]] = {}


def names() -> tuple[str, ...]:
    """The built-in backends."""
    return tuple(_PROVIDERS)


def register_plugin(name: str, cls: type[ModelAPI]) -> None:
    """Make a plugin's provider class the backend `name` (never over a built-in one)."""
    if name not in _PROVIDERS:
        _PLUGINS[name] = cls


def provider_class(backend: str) -> type[ModelAPI]:
    if backend in _PLUGINS and backend not in _PROVIDERS:
        return _PLUGINS[backend]
    if backend not in _PROVIDERS:
        raise ConfigError(f"unknown LLM backend {backend!r}: use {', '.join(_PROVIDERS)}")
    module, cls = _PROVIDERS[backend]
    return getattr(import_module(f".{module}", __name__), cls)


def create_provider(backend: str, model: str, base_urls: Sequence[str] | None = None,
                    options: BaseModel | dict[str, Any] | None = None,
                    concurrency: int = DEFAULT_CONCURRENCY) -> ModelAPI:
    """The backend's API object, made through the constructor contract of `base.ModelAPI`
    (built-in and plugin providers alike); `options` are its own (validated here when a dict)."""
    cls = provider_class(backend)
    if not isinstance(options, BaseModel):
        from pydantic import ValidationError

        try:
            options = cls.Options(**(options or {}))
        except ValidationError as exc:
            errs = validation_message(exc)
            raise ConfigError(f"bad {backend} option(s): {errs}") from None
    return cls(model, base_urls, options, concurrency)
