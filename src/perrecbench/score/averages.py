"""A model's "Avg.": the mean of its (level, method) tau cells, as in the paper's table."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ..constants import LEVELS, METHODS
from ..records import AverageRow, ScoreRow
from .metric_table import TAU_METRICS

#: models that read the truth (tau 1, zero rating error): left out of every mean or
#: correlation over models (`correlate`, the report's mean per method)
ORACLES = ("baseline/oracle",)


def reads_truth(model: str) -> bool:
    """A model that answers from the truth, so it would pull any mean over models up."""
    return model in ORACLES


def cell_averages(rows: Sequence[ScoreRow], metric: str | None = None,
                  label: Callable[[ScoreRow], str] = lambda r: r.model) -> list[AverageRow]:
    """Per model (as named by `label`), the mean of its level x method cells for `metric`."""
    metric = metric or next((r.metric for r in rows if r.metric in TAU_METRICS), "tau-b")
    cells: dict[str, dict[tuple[str, str], float]] = {}
    for r in rows:
        if r.metric == metric and not math.isnan(r.score):
            cells.setdefault(label(r), {})[(r.level, r.method)] = r.score
    full = len(LEVELS) * len(METHODS)
    return [
        AverageRow(model=model, metric=metric, score=float(np.mean(list(c.values()))), n_cells=len(c),
                   complete=len(c) == full)
        for model, c in cells.items()
    ]
