"""Approximate prices of hosted models, for cost estimates and the progress display.

USD per 1M input / output tokens, list prices as published by the providers around
2025-01 -- APPROXIMATE: check the provider's page before budgeting. Users add or
override entries with a JSON file `{"model": [input, output], ...}` (`--prices FILE`,
or `$PERRECBENCH_HOME/prices.json`). Local servers cost 0; unknown models cost None.
"""

from __future__ import annotations

import json
from pathlib import Path

from ...errors import ConfigError
from ...home import home_dir

PRICES_AS_OF = "2025-01 (approximate)"

#: model name (or name prefix) -> (USD per 1M input tokens, USD per 1M output tokens)
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o1": (15.00, 60.00),
    "o1-mini": (1.10, 4.40),
    "o3-mini": (1.10, 4.40),
    "claude-3-5-sonnet": (3.00, 15.00),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-3-7-sonnet": (3.00, 15.00),
    "claude-3-opus": (15.00, 75.00),
    "claude-3-haiku": (0.25, 1.25),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-opus-4": (15.00, 75.00),
    "deepseek-chat": (0.27, 1.10),
    "deepseek-reasoner": (0.55, 2.19),
    "mistral-large": (2.00, 6.00),
    "mistral-small": (0.20, 0.60),
    "gemini-1.5-pro": (1.25, 5.00),
    "gemini-1.5-flash": (0.075, 0.30),
    "gemini-2.0-flash": (0.10, 0.40),
}


class PriceTable:
    """Looks a model up by exact name, else by the longest known prefix (dated names)."""

    def __init__(self, extra: dict[str, tuple[float, float]] | None = None):
        self.prices = {**PRICES, **(extra or {})}

    @classmethod
    def load(cls, path: Path | str | None = None) -> PriceTable:
        """The built-in table plus `path` (or `$PERRECBENCH_HOME/prices.json` if present)."""
        if path is None:
            default = home_dir() / "prices.json"
            path = default if default.exists() else None
        if path is None:
            return cls()
        return cls(read_prices(Path(path)))

    def lookup(self, model: str) -> tuple[float, float] | None:
        name = model.rsplit("/", 1)[-1].lower()
        if name in self.prices:
            return self.prices[name]
        best = max((k for k in self.prices if name.startswith(k)), key=len, default=None)
        return self.prices[best] if best else None

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int, local: bool = False) -> float | None:
        """USD for the tokens; 0 for a local server, None when the price is unknown."""
        if local:
            return 0.0
        price = self.lookup(model)
        if price is None:
            return None
        return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1e6


def read_prices(path: Path) -> dict[str, tuple[float, float]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read price file {path}: {exc}") from exc
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f'{path}: expected {{"model": [input_usd_per_1M, output_usd_per_1M], ...}}')
    out: dict[str, tuple[float, float]] = {}
    for name, value in data.items():
        if isinstance(value, dict):
            value = [value.get("input"), value.get("output")]
        try:
            inp, outp = (float(v) for v in value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{path}: price of {name!r} must be [input, output] USD per 1M tokens, got {value!r}"
            ) from None
        out[str(name).lower()] = (inp, outp)
    return out
