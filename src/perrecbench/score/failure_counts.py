"""Why a run's answers failed: the failure category of each failed question, per level.

The counts use the scorer's own outcomes, so per level they add up to the `n_failed`
of that level's score rows: a failed answer counts under its recorded category, and an
answer marked ok that does not fit its question (not a permutation of the group, scores
of the wrong length) under "invalid_answer", because the scorer treats it as failed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .. import failures
from .outcomes import outcomes
from .runs import LoadedRun

INVALID = failures.INVALID_ANSWER.name
UNKNOWN = "unknown"  # failed, but the run recorded no category


@dataclass(frozen=True)
class FailureCounts:
    """One level of one run: failed answers by category, and questions never answered."""

    level: str
    n_questions: int
    n_missing: int
    categories: dict[str, int] = field(default_factory=dict)

    @property
    def n_failed(self) -> int:
        return sum(self.categories.values())


def failure_counts(run: LoadedRun) -> list[FailureCounts]:
    """Per level of the run, in level order."""
    out = []
    for level in run.levels:
        outs = outcomes(run, level)
        cats: Counter[str] = Counter()
        for o in outs:
            if o.status == "failed" and o.prediction is not None:
                pred = o.prediction
                cats[INVALID if pred.ok else (pred.failure or UNKNOWN)] += 1
        out.append(FailureCounts(
            level=level, n_questions=len(outs), n_missing=sum(o.status == "missing" for o in outs),
            categories=dict(sorted(cats.items())),
        ))
    return out
