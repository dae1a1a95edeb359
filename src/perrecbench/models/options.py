"""Checking a model's `--option key=value` settings against its defaults (one place for all baselines)."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError


def parse_options(model: str, options: dict[str, Any] | None, defaults: dict[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with `options`, cast to each default's type; unknown keys are errors."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        valid = ", ".join(sorted(defaults)) or "none"
        raise ConfigError(f"{model}: unknown option(s) {', '.join(unknown)} (valid: {valid})")
    out = dict(defaults)
    for key, raw in options.items():
        kind = type(defaults[key])
        try:
            value = kind(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{model}: option {key}={raw!r} is not a {kind.__name__}") from None
        if isinstance(value, (int, float)) and value < 0:
            raise ConfigError(f"{model}: option {key} must not be negative (got {raw!r})")
        out[key] = value
    return out
