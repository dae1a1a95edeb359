"""Results of the paper's analyses, as stored documents: the correlation of preference
scores with rating-prediction error (`perrecbench correlate`) and score breakdowns
(`perrecbench breakdown`); a sweep's documents are in `records.sweep`.

Each document is a `StoredRecord` with its own format version; the report and the
figures read them, never the runs. Undefined values (a correlation of two models, a
constant side) are NaN in memory and null in JSON, as in `ScoreRow`.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from .provenance import Provenance
from .score_row import ScoreRow
from .versioning import StoredRecord


def _nan_to_none(value: float) -> float | None:
    return None if isinstance(value, float) and math.isnan(value) else value


def _none_to_nan(value: Any) -> Any:
    return math.nan if value is None else value


#: a float that may be undefined: NaN in memory, null in JSON (as in `ScoreRow`)
Float = Annotated[float, BeforeValidator(_none_to_nan), PlainSerializer(_nan_to_none)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- correlate ------------------------------------------------------------------------------


class ModelPoint(_Frozen):
    """One model in the correlation: its preference score and its rating-prediction errors."""

    label: str  # how models are matched: "model [variant]" or, with --match model, the model
    preference: Float
    preference_ci_low: Float = math.nan  # a single cell's interval (none for the 9-cell average)
    preference_ci_high: Float = math.nan
    preference_cells: int = 1
    mae: Float
    mae_ci_low: Float
    mae_ci_high: Float
    rmse: Float
    rmse_ci_low: Float
    rmse_ci_high: Float
    acc: Float
    n_pairs: int  # rating questions scored
    n_failed: int  # rating answers that failed (excluded from the errors)
    runs: list[str] = Field(default_factory=list)


class CorrelationRow(_Frozen):
    """A correlation coefficient with its 95% bootstrap interval and sample size.

    view "models": across models, preference score vs one error measure (resampling models);
    view "groups": within `model` (or "all models"), each group's mean absolute rating
    error on its members vs the model's tau on that group (resampling groups)."""

    view: str
    model: str = ""  # groups view: whose groups
    x: str  # e.g. "rmse", or "abs error" (groups)
    y: str  # e.g. "tau-b Avg."
    coefficient: str  # pearson | spearman | kendall
    value: Float
    ci_low: Float
    ci_high: Float
    n: int  # models, or groups


class GroupPoint(_Frozen):
    """One (model, group): the mean absolute error of the model's rating predictions for
    the group's members that the rating sample holds, and its tau on the group (the mean
    over the methods it answered the group with)."""

    model: str
    level: str
    question_id: str
    error: Float
    tau: Float
    n_members: int  # members with a rating prediction
    n_methods: int


class CorrelationReport(StoredRecord):
    """What `perrecbench correlate --out DIR` writes as `correlation.json`."""

    FORMAT: ClassVar[int] = 1
    KIND: ClassVar[str] = "correlation report"
    model_config = ConfigDict(frozen=True)

    format_version: int = FORMAT
    metric: str = "tau-b"
    preference: str = "tau-b Avg."  # what the preference score is
    match: str = "label"
    points: list[ModelPoint] = Field(default_factory=list)
    rows: list[CorrelationRow] = Field(default_factory=list)
    groups: list[GroupPoint] = Field(default_factory=list)
    excluded: list[str] = Field(default_factory=list)  # models left out (the oracle reads the truth)
    notes: list[str] = Field(default_factory=list)
    provenance: Provenance | None = None


# --- breakdown -----------------------------------------------------------------------------


class BreakdownRow(ScoreRow):
    """A score of one run on the questions of one group (a category, an exposure bucket,
    a level, or all of a method's questions); `level` is "all" when the levels are pooled."""

    by: str
    group: str
    rank: int = 0  # the groups' order (buckets low to high, categories by size)
    low: float | None = None  # exposure buckets: the counts they span
    high: float | None = None


class BreakdownTable(StoredRecord):
    """What `perrecbench breakdown --out DIR` writes as `breakdown-<by>.json`."""

    FORMAT: ClassVar[int] = 1
    KIND: ClassVar[str] = "breakdown table"
    model_config = ConfigDict(frozen=True)

    format_version: int = FORMAT
    by: str
    metric: str = "tau-b"
    exposure_source: str | None = None  # what the counts are (exposure only)
    rows: list[BreakdownRow] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    provenance: Provenance | None = None
