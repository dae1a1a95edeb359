"""Prompt set names -> prompt sets.

* `default` — PerRecBench's own wording (no external files).
* `official` — the authors' templates from `templates_dir` (their `code/` folder).
* `official-sample-run` — `official` with the one listwise instruction line used by the
  authors' released sample prompts (see official_set.py), for exact comparison.
* `rating-wang`, `rating-liu`, `rating-dai`, `rating-bookgpt` — the four older
  rating-prediction families from the same folder, `variant` 0-3 (see rating_set.py);
  pointwise / rating-task prompts only.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from .components import PromptSet
from .rating_set import FAMILIES

NAMES = ("default", "official", "official-sample-run", *FAMILIES)


def is_rating_family(name: str) -> bool:
    """Whether `name` is one of the older rating-prediction families (variants, number answers)."""
    return name in FAMILIES


def get_prompt_set(name: str = "default", templates_dir: Path | str | None = None,
                   variant: int | None = None) -> PromptSet:
    if variant is not None and not is_rating_family(name):
        raise ConfigError(f"--prompt-variant is for the rating families ({', '.join(FAMILIES)}), not {name!r}")
    if name == "default":
        from .default_set import DefaultPromptSet

        return DefaultPromptSet()
    if name in NAMES and templates_dir is None:
        raise ConfigError(
            f"prompt set {name!r} reads the authors' templates: pass their directory "
            "(the release's code/ folder) with --templates DIR"
        )
    if name in ("official", "official-sample-run"):
        from .official_set import OfficialPromptSet

        assert templates_dir is not None
        return OfficialPromptSet(templates_dir, variant="sample-run" if name == "official-sample-run" else "released")
    if is_rating_family(name):
        from .rating_set import RatingFamilySet

        assert templates_dir is not None
        return RatingFamilySet(name, templates_dir, variant)
    raise ConfigError(f"unknown prompt set {name!r}; choose from {', '.join(NAMES)}")
