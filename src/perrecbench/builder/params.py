"""Build parameters (SPEC 2.3). Every field is recorded in the benchmark manifest."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..constants import GROUP_SIZE, LEVELS
from ..errors import ConfigError

DEFAULT_MIN_GAP = {"easy": 1.0, "medium": 0.75, "hard": 0.5}


@dataclass(frozen=True)
class BuildParams:
    """How a benchmark is cut from reviews. Defaults follow SPEC 2.3."""

    seed: int = 0
    min_history: int = 16  # earlier reviews a user needs to be a candidate
    window_days: float = 365.0  # all members' review times fall inside one such window
    min_gap: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIN_GAP))
    n_items: int = 200  # test query items per level
    n_heldout: int = 100  # held-out query items per level (few-shot pool)
    max_train: int | None = None  # cap on train items per level (None = all remaining)
    user_mean: str = "history"  # "history" (leak-free) or "all" (the release's leak)
    levels: tuple[str, ...] = LEVELS
    group_size: dict[str, int] = field(default_factory=lambda: dict(GROUP_SIZE))
    max_candidates: int = 400  # raters of one item considered per window (bounds work on hits)

    def __post_init__(self) -> None:
        if self.user_mean not in ("history", "all"):
            raise ConfigError("user_mean must be 'history' or 'all'")
        if self.user_mean == "history" and self.min_history < 1:
            raise ConfigError("user_mean=history needs min_history >= 1 (an average of nothing)")
        if self.min_history < 0 or self.window_days <= 0 or self.n_items < 0 or self.n_heldout < 0:
            raise ConfigError("min_history, n_items and n_heldout must be >= 0, window_days > 0")
        for lv in self.levels:
            if lv not in self.group_size or lv not in self.min_gap:
                raise ConfigError(f"level {lv!r} needs a group size and a min gap")
            if self.min_gap[lv] <= 0:
                raise ConfigError(f"min gap for {lv} must be > 0 so groups have no ties")
            if self.group_size[lv] < 2:
                raise ConfigError(f"group size for {lv} must be >= 2")

    @property
    def window_ms(self) -> int:
        return int(round(self.window_days * 86_400_000))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["levels"] = list(self.levels)
        return d
