"""Score rows: one (run, level, metric) cell with its interval and counts, and the
averages and paired comparisons made from them.

`perrecbench score --format json` prints a list of `ScoreRow`s (`--compare`: of
`ComparisonRow`s); the report's data embeds them.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, field_serializer, field_validator


def _nan_to_none(value: float) -> float | None:
    return None if isinstance(value, float) and math.isnan(value) else value


class ScoreRow(BaseModel):
    """One cell: a run's score on one level for one metric, with its 95% interval."""

    model_config = ConfigDict(frozen=True)

    model: str
    method: str
    level: str
    metric: str
    score: float
    ci_low: float
    ci_high: float
    n_questions: int  # questions the run was asked (of those scored alongside, see `score`)
    n_failed: int  # answered, but failed (or invalid)
    n_missing: int  # asked, never answered
    n_scored: int  # questions that entered the mean
    failure_policy: str
    run: str = ""
    variant: str = ""  # the run's own label of its settings ("" = defaults)

    @field_serializer("score", "ci_low", "ci_high")
    def _finite(self, value: float) -> float | None:
        return _nan_to_none(value)

    @field_validator("score", "ci_low", "ci_high", mode="before")
    @classmethod
    def _undefined(cls, value: Any) -> Any:
        """JSON has no NaN: an undefined value is written as null and read back as NaN."""
        return math.nan if value is None else value

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> ScoreRow:
        return cls.model_validate(data)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @property
    def label(self) -> str:
        """The model with its variant, as leaderboards name rows."""
        return f"{self.model} [{self.variant}]" if self.variant else self.model


class AverageRow(BaseModel):
    """A model's "Avg.": the mean of its (level, method) tau cells."""

    model_config = ConfigDict(frozen=True)

    model: str
    metric: str
    score: float
    n_cells: int
    complete: bool  # all 9 cells present; otherwise the mean of those that exist

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class ComparisonRow(BaseModel):
    """Paired comparison of run A vs run B on one level's shared questions (A - B)."""

    model_config = ConfigDict(frozen=True)

    level: str
    metric: str
    model_a: str
    method_a: str
    model_b: str
    method_b: str
    score_a: float
    score_b: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    exact_p: bool
    #: each side's leaderboard label (model and variant, an adapter included) and run directory
    label_a: str = ""
    label_b: str = ""
    run_a: str = ""
    run_b: str = ""

    @field_serializer("score_a", "score_b", "diff", "ci_low", "ci_high", "p_value")
    def _finite(self, value: float) -> float | None:
        return _nan_to_none(value)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
