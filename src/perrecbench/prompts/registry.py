"""Prompt set names -> prompt sets.

* `default` — PerRecBench's own wording (no external files).
* `official` — the authors' templates from `templates_dir` (their `code/` folder).
* `official-sample-run` — `official` with the one listwise instruction line used by the
  authors' released sample prompts (see official_set.py), for exact comparison.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from .components import PromptSet

NAMES = ("default", "official", "official-sample-run")


def get_prompt_set(name: str = "default", templates_dir: Path | str | None = None) -> PromptSet:
    if name == "default":
        from .default_set import DefaultPromptSet

        return DefaultPromptSet()
    if name in ("official", "official-sample-run"):
        if templates_dir is None:
            raise ConfigError(
                f"prompt set {name!r} reads the authors' templates: pass their directory "
                "(the release's code/ folder) with --templates DIR"
            )
        from .official_set import OfficialPromptSet

        variant = "sample-run" if name == "official-sample-run" else "released"
        return OfficialPromptSet(templates_dir, variant=variant)
    raise ConfigError(f"unknown prompt set {name!r}; choose from {', '.join(NAMES)}")
