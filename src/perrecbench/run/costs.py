"""What answering a question cost: model calls, and (pairwise) how often pairs disagreed.

One definition for the end-of-run summary and the `score` rows (which bootstrap these
per-question values), so both report the same figures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..records import Prediction

#: the score metric "model calls per question" (not the call log: that is `rundir.CALLS`)
CALLS_PER_QUESTION = "calls/question"
INCONSISTENCY = "pair inconsistency"


@dataclass(frozen=True)
class CostMeasure:
    """A per-question cost; None for questions it does not apply to."""

    name: str
    value: Callable[[Prediction], float | None]
    methods: tuple[str, ...] | None = None  # None: every method


def _inconsistency(pred: Prediction) -> float | None:
    """The share of a pairwise answer's pairs (asked in both orders) whose two answers disagree."""
    rate = pred.pairs.inconsistency_rate if pred.pairs is not None else None
    return None if rate is None else float(rate)


COSTS = {
    CALLS_PER_QUESTION: CostMeasure(CALLS_PER_QUESTION, lambda p: float(p.n_calls)),
    INCONSISTENCY: CostMeasure(INCONSISTENCY, _inconsistency, methods=("pair",)),
}


def cost_series(preds: Sequence[Prediction], method: str) -> dict[str, list[float]]:
    """Per answered question, each cost measure of the method; empty for runs that make
    no calls (baselines)."""
    if not any(p.n_calls for p in preds):
        return {}
    out: dict[str, list[float]] = {}
    for name, measure in COSTS.items():
        if measure.methods is None or method in measure.methods:
            out[name] = [v for p in preds if (v := measure.value(p)) is not None]
    return out
