"""A model's answer to one question, and the line that stores it in `predictions.jsonl`.

Never a silent fallback: a failed answer is recorded with its category from
`perrecbench.failures`. `order` is best-first member indices (0-based); `scores` are per
member in member order (higher = likes more); pointwise answers also hold `ratings`
(the predicted 1-5 ratings) and their `scores` are the predicted relative ratings.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .. import failures
from ..redaction import redact


class PairStats(BaseModel):
    """How a pairwise answer came about: pairs asked (each in both orders), how many
    disagreed with themselves, how many could not be parsed."""

    model_config = ConfigDict(frozen=True)

    strategy: str = "heap"
    asked: int = 0
    inconsistent: int = 0
    unparsed: int = 0
    #: inconsistent / (pairs whose two answers parsed); None when none did
    inconsistency_rate: float | None = None


#: fields written only when they hold something (baseline lines stay as short as before)
_OPTIONAL = {"cached_calls": 0, "parse_failures": {}, "pairs": None, "sample_answers": None,
             "partial_answers": None, "raw": None}
#: keys that version-1 lines kept in `extra`
_LEGACY_PAIR = {"pair_strategy": "strategy", "pairs_asked": "asked", "pairs_inconsistent": "inconsistent",
                "pairs_unparsed": "unparsed", "inconsistency_rate": "inconsistency_rate"}


class Prediction(BaseModel):
    model_config = ConfigDict(frozen=True)

    question_id: str
    status: Literal["ok", "failed"] = "ok"
    order: list[int] | None = None
    scores: list[float] | None = None
    ratings: list[float | None] | None = None
    failure: str | None = None  # a `failures` category name when status == "failed"
    failure_detail: str | None = None
    n_calls: int = 0
    n_failed_calls: int = 0
    cached_calls: int = 0
    parse_failures: dict[str, int] = Field(default_factory=dict)
    pairs: PairStats | None = None
    sample_answers: list[Any] | None = None  # self-consistency: each sample's parsed answer
    partial_answers: list[Any] | None = None  # pointwise: the members that did answer
    raw: Any = None  # an imported answer as the source file held it
    extra: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _migrate(cls, data: Any) -> Any:
        """Version-1 lines: typed fields were keys of `extra`; failure names were older."""
        if not isinstance(data, dict):
            return data
        extra = data.get("extra")
        if isinstance(extra, dict) and extra:
            data = dict(data)
            extra = dict(extra)
            pair = {new: extra.pop(old) for old, new in _LEGACY_PAIR.items() if old in extra}
            if pair and "pairs" not in data:
                data["pairs"] = pair
            for key in ("cached_calls", "parse_failures", "sample_answers", "partial_answers", "raw"):
                if key in extra and key not in data:
                    data[key] = extra.pop(key)
            data["extra"] = extra
        name = data.get("failure")
        if name is not None and name not in failures.BY_NAME:
            data = {**data, "failure": failures.lookup(name).name}
        return data

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def failure_category(self) -> failures.Failure | None:
        return None if self.ok else failures.lookup(self.failure)

    @classmethod
    def failed(cls, question_id: str, failure: failures.Failure, detail: str | None = None,
               **fields: Any) -> Prediction:
        """A recorded failure of `question_id`."""
        return cls(question_id=question_id, status="failed", failure=failure.name,
                   failure_detail=(detail or "")[:500] or None, **fields)

    def to_dict(self) -> dict[str, Any]:
        d = self.model_dump(mode="json")
        for key, default in _OPTIONAL.items():
            if d[key] == default:
                del d[key]
        return d


class PredictionLine(BaseModel):
    """One line of `predictions.jsonl`: the level and split of the question, and the answer."""

    model_config = ConfigDict(frozen=True)

    level: str
    split: str
    prediction: Prediction

    def to_json(self) -> str:
        d = {"level": self.level, "split": self.split, **self.prediction.to_dict()}
        if d.get("failure_detail"):  # error text may quote a server's answer, and with it a key
            d["failure_detail"] = redact(d["failure_detail"])
        return json.dumps(d, sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str | bytes) -> PredictionLine:
        d = json.loads(line)
        if not isinstance(d, dict):
            raise ValueError("not a JSON object")
        level, split = d.pop("level"), d.pop("split")
        return cls(level=level, split=split, prediction=Prediction.model_validate(d))
