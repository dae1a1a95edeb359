"""Paired comparison of two runs on the questions they share: difference, interval, p-value."""

from __future__ import annotations

import math

import numpy as np

from ..errors import BenchmarkError, ConfigError
from ..records import ComparisonRow
from . import stats
from .metric_table import TAU, TAU_METRICS
from .outcomes import outcomes
from .runs import LoadedRun
from .scoring import question_value


def compare_runs(a: LoadedRun, b: LoadedRun, metric: str = "tau-b", n_resamples: int = 1000,
                 seed: int = 0) -> list[ComparisonRow]:
    """Per shared level: paired difference of per-question values, bootstrap CI, sign-flip p.

    Questions pair by id: those both runs are scored on. tau-b pairs every such question
    (failed = 0); official-v1 and official-v2 pair the questions both runs answered, as
    the authors' evaluators would score them.
    """
    if metric not in TAU:
        raise ConfigError(f"unknown metric {metric!r}; choose from {', '.join(TAU_METRICS)}")
    if a.bench.fingerprint != b.bench.fingerprint or a.split != b.split:
        raise BenchmarkError(
            f"{a.path} and {b.path} were run on different benchmarks or splits; cannot pair them"
        )
    spec = TAU[metric]
    rows = []
    for level in [lv for lv in a.levels if lv in b.levels]:
        vb = {o.question.id: question_value(o, spec, b.method) for o in outcomes(b, level)}
        pairs = [(x, vb[o.question.id]) for o in outcomes(a, level)
                 if o.question.id in vb and (x := question_value(o, spec, a.method)) is not None
                 and vb[o.question.id] is not None]
        xa = [float(x) for x, _ in pairs]
        xb = [float(y) for _, y in pairs if y is not None]
        res = stats.paired_comparison(xa, xb, rng=np.random.default_rng(seed), n_resamples=n_resamples)
        rows.append(ComparisonRow(
            level=level, metric=metric, model_a=a.model, method_a=a.method, model_b=b.model,
            method_b=b.method, score_a=float(np.mean(xa)) if xa else math.nan,
            score_b=float(np.mean(xb)) if xb else math.nan, diff=res.mean_diff, ci_low=res.ci_low,
            ci_high=res.ci_high, p_value=res.p_value, n=res.n, exact_p=res.exact,
            label_a=a.label, label_b=b.label, run_a=str(a.path), run_b=str(b.path),
        ))
    if not rows:
        raise ConfigError(f"{a.path} and {b.path} share no level to compare")
    return rows
