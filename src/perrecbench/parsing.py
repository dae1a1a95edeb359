"""Command-line text -> values: the one `key=value` parser and the one level-list parser.

`--option`, `--set`, `--vary` and a source's `--option` differ only in how a value is
typed (JSON, YAML, sweep words, a list of those) and in whether dashes in a key become
underscores; those differences are parameters here, not four parsers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from .constants import LEVELS
from .errors import ConfigError

_BOOL = {"true": True, "on": True, "yes": True, "false": False, "off": False, "no": False}


def json_or_text(text: str) -> Any:
    """`3` -> 3, `true` -> True, `[1, 2]` -> [1, 2]; anything that is not JSON stays text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def yaml_or_text(text: str) -> Any:
    """A YAML scalar or list (`1e-5`, `true`, `[q_proj, v_proj]`); empty -> None; text that
    is not YAML stays text."""
    import yaml

    if not text.strip():
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def word(text: str) -> Any:
    """`4` -> 4, `0.5` -> 0.5, `on`/`true` -> True, `none` -> None, anything else a string."""
    t = text.strip()
    if t.lower() in _BOOL:
        return _BOOL[t.lower()]
    if t.lower() in ("none", "null"):
        return None
    return json_or_text(t)


def word_list(text: str) -> list[Any]:
    """`1, 2,4,2` -> [1, 2, 4]: comma-separated words, each once, in the given order."""
    out: list[Any] = []
    for v in (word(x) for x in text.split(",") if x.strip()):
        if v not in out:
            out.append(v)
    return out


def parse_key_values(
    pairs: Iterable[str],
    flag: str,
    value: Callable[[str], Any] = json_or_text,
    *,
    expects: str = "key=value",
    underscores: bool = True,
    need_value: bool = False,
) -> list[tuple[str, Any]]:
    """`key=value` texts -> (key, typed value) in the given order (repeated keys kept).

    `value` types the text after the first `=`; `underscores` writes `max-tokens` as
    `max_tokens`; `need_value` refuses `key=`. A text without `=` or without a key is a
    `ConfigError`: "`flag` expects `expects`, got '...'"."""
    out: list[tuple[str, Any]] = []
    for p in pairs:
        key, sep, text = p.partition("=")
        key = key.strip()
        if underscores:
            key = key.replace("-", "_")
        if not sep or not key or (need_value and not text.strip()):
            raise ConfigError(f"{flag} expects {expects}, got {p!r}")
        out.append((key, value(text)))
    return out


def parse_levels(text: str | None) -> list[str] | None:
    """`easy,hard` -> the levels; None for all."""
    if not text:
        return None
    out = [lv.strip() for lv in text.split(",") if lv.strip()]
    bad = [lv for lv in out if lv not in LEVELS]
    if bad:
        raise ConfigError(f"unknown level(s) {bad}; choose from {', '.join(LEVELS)}")
    return out
