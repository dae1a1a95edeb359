"""Score run directories against their benchmark: one row per (run, level, metric).

Failure policy (SPEC 5): with the default "tau-b" metric every question of a level
counts for every model, so all models share one denominator. A failed answer scores
0 (chance) and is counted in `n_failed`; a question the run never answered scores 0
too and is counted in `n_missing`. "official-v1" reproduces the released evaluator,
which skips failed groups: skipped questions are reported, not hidden. Exact-order and
pairwise accuracy follow the "failed=0" policy; MAE, RMSE and Pearson (pointwise runs
only) exclude failed answers, which have no rating.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import LEVELS, METHODS
from ..bench import Benchmark
from ..errors import BenchmarkError, ConfigError
from ..run.rundir import RunDir, bench_fingerprint
from ..types import Prediction, Question
from . import metrics, stats

TAU_METRICS = ("tau-b", "official-v1")
POLICY_ZERO = "failed=0"
POLICY_SKIP = "failed=skipped"
POLICY_EXCLUDE = "failed=excluded"
POLICY_ANSWERED = "answered questions"
#: what answering cost, per question (rows of `score`, not ranking metrics)
CALLS = "calls/question"
INCONSISTENCY = "pair inconsistency"


@dataclass(frozen=True)
class ScoreRow:
    """One cell: a run's score on one level for one metric, with its CI and counts."""

    model: str
    method: str
    level: str
    metric: str
    score: float
    ci_low: float
    ci_high: float
    n_questions: int  # questions of the level in the benchmark
    n_failed: int  # answered, but failed (or invalid)
    n_missing: int  # never answered
    n_scored: int  # questions that entered the mean
    failure_policy: str
    run: str = ""
    variant: str = ""  # the run's settings that differ from the paper's (see `run_variant`)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("score", "ci_low", "ci_high"):
            if isinstance(d[key], float) and math.isnan(d[key]):
                d[key] = None
        return d


@dataclass
class LoadedRun:
    """A run directory with its predictions indexed by (level, question id)."""

    path: Path
    manifest: dict[str, Any]
    bench: Benchmark
    split: str
    levels: list[str]
    predictions: dict[tuple[str, str], Prediction]
    warnings: list[str] = field(default_factory=list)

    @property
    def model(self) -> str:
        return str(self.manifest.get("model", self.path.name))

    @property
    def method(self) -> str:
        return str(self.manifest.get("method", "?"))

    @property
    def variant(self) -> str:
        return run_variant(self.manifest.get("model_config") or {})


def run_variant(config: dict[str, Any]) -> str:
    """A short label for how an LLM run was set up, so rows say what they measured: the
    profile source always ("no profile", "offline profile", "profile: <label>"), then
    every method setting that differs from the default (CoT, shots, samples, ...).
    Empty for runs without LLM settings (baselines)."""
    if "profile" not in config:
        return ""
    profile = str(config.get("profile") or "none")
    parts = ["no profile" if profile == "none" else "offline profile" if profile == "offline"
             else f"profile: {profile}"]
    if config.get("prompt_set", "default") != "default":
        parts.append(f"{config['prompt_set']} prompts")
    if config.get("cot"):
        parts.append("CoT")
    if config.get("shots"):
        parts.append(f"{config['shots']}-shot")
    if (config.get("samples") or 1) > 1:
        parts.append(f"{config['samples']} samples")
    if config.get("pair_strategy", "heap") != "heap":
        parts.append(str(config["pair_strategy"]))
    if config.get("k", 4) != 4:
        parts.append(f"k={config['k']}")
    if config.get("rel_rating"):
        parts.append("relative ratings")
    if config.get("describe_items"):
        parts.append("item descriptions")
    return ", ".join(parts)


def load_run(run_dir: Path | str, bench: Benchmark | Path | str | None = None) -> LoadedRun:
    """Read a run directory and the benchmark it was run on (or `bench`, which must match)."""
    rd = RunDir(run_dir)
    manifest = rd.read_manifest()
    if bench is None:
        bench_path = manifest.get("bench")
        if not bench_path:
            raise BenchmarkError(f"{rd.manifest_path} names no benchmark; pass --bench")
        if not Path(bench_path).exists():
            raise BenchmarkError(
                f"benchmark {bench_path} of run {rd.path} does not exist; pass --bench with its new location"
            )
        bench = Benchmark(bench_path)
    elif not isinstance(bench, Benchmark):
        bench = Benchmark(bench)
    expected = manifest.get("bench_fingerprint")
    if expected and expected != bench_fingerprint(bench.path):
        raise BenchmarkError(
            f"run {rd.path} was made on a different benchmark than {bench.path} "
            f"(fingerprint {expected} vs {bench_fingerprint(bench.path)})"
        )
    split = str(manifest.get("split", "test"))
    records = [r for r in rd.read_predictions() if r.split == split]
    levels = [
        lv for lv in LEVELS if lv in set(manifest.get("levels") or []) | {r.level for r in records}
    ]
    missing_levels = [lv for lv in levels if lv not in bench.available(split)]
    if missing_levels:
        raise BenchmarkError(
            f"{bench.path} has no {split} questions for level(s) {missing_levels} of run {rd.path}"
        )
    preds = {(r.level, r.prediction.question_id): r.prediction for r in records}
    warnings = []
    for level in levels:
        known = {q.id for q in bench.questions(split, level)}
        stray = sum(1 for lv, qid in preds if lv == level and qid not in known)
        if stray:
            warnings.append(
                f"{rd.path}: {stray} {level} answers match no question of {bench.path} (ignored)"
            )
    return LoadedRun(Path(run_dir), manifest, bench, split, levels, preds, warnings)


def expand_run_dirs(run_dirs: Sequence[Path | str]) -> list[Path]:
    """Run directories as given; a folder that is not a run itself but holds runs (the
    OUT of `perrecbench run --method point,pair,list`) stands for those runs."""
    out: list[Path] = []
    for rd in map(Path, run_dirs):
        inner = [] if RunDir(rd).exists() or not rd.is_dir() else sorted(
            p for p in rd.iterdir() if p.is_dir() and RunDir(p).exists())
        out.extend(inner or [rd])
    return out


def load_runs(run_dirs: Sequence[Path | str], bench: Path | str | None = None) -> list[LoadedRun]:
    """Load several runs, reading each benchmark directory once."""
    if not run_dirs:
        raise ConfigError("no run directories given")
    cache: dict[str, Benchmark] = {}
    runs = []
    for rd in expand_run_dirs(run_dirs):
        key = (
            str(bench) if bench is not None else str(RunDir(rd).read_manifest().get("bench") or "")
        )
        run = load_run(rd, cache.get(key) or bench)
        if key:
            cache[key] = run.bench
        runs.append(run)
    return runs


# --- per-question outcomes -------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """A question and the run's answer to it: status "ok", "failed" or "missing"."""

    question: Question
    prediction: Prediction | None
    status: str


def _valid(pred: Prediction, n: int) -> bool:
    if pred.order is not None:
        if sorted(pred.order) != list(range(n)):
            return False
    if pred.scores is not None:
        if len(pred.scores) != n or any(
            not isinstance(s, (int, float)) or not math.isfinite(s) for s in pred.scores
        ):
            return False
    if pred.ratings is not None and len(pred.ratings) != n:
        return False
    return pred.order is not None or pred.scores is not None


def outcomes(run: LoadedRun, level: str) -> list[Outcome]:
    """Every question of the level, in benchmark order, paired with the run's answer."""
    out = []
    for q in run.bench.questions(run.split, level):
        pred = run.predictions.get((level, q.id))
        if pred is None:
            out.append(Outcome(q, None, "missing"))
        elif not pred.ok or not _valid(pred, q.n):
            out.append(Outcome(q, pred, "failed"))
        else:
            out.append(Outcome(q, pred, "ok"))
    return out


def predicted_scores(pred: Prediction, method: str) -> list[float]:
    """Per-member scores: pointwise scores (ties kept); otherwise the answer's order."""
    if method == "point" and pred.scores is not None:
        return [float(s) for s in pred.scores]
    if pred.order is not None:
        return metrics.order_to_scores(pred.order)
    return [float(s) for s in pred.scores or []]


def predicted_ids(pred: Prediction, question: Question, method: str) -> list[int]:
    """The 1-based best-first id list the released evaluator would compare."""
    if method == "point":
        if pred.ratings is not None and all(r is not None for r in pred.ratings):
            return metrics.official_point_ids(pred.ratings, [m.avg_rating for m in question.users])
        if pred.scores is not None:
            return metrics.official_point_ids(pred.scores, [0.0] * question.n)
    if pred.order is not None:
        return [i + 1 for i in pred.order]
    return metrics.official_point_ids(pred.scores or [], [0.0] * question.n)


def question_value(o: Outcome, metric: str, method: str) -> float | None:
    """One question's value for a per-question metric; None = skipped (official-v1 only)."""
    if o.status != "ok":
        return None if metric == "official-v1" else 0.0
    q, pred = o.question, o.prediction
    if pred is None:  # unreachable: "ok" outcomes carry their prediction
        return 0.0
    if metric == "official-v1":
        return metrics.official_v1(
            predicted_ids(pred, q, method), metrics.official_true_ids(q.true_scores())
        )
    scores = predicted_scores(pred, method)
    if metric == "tau-b":
        return metrics.tau_b(scores, q.true_scores())
    if metric == "pair_acc":
        return metrics.pairwise_accuracy(scores, q.true_scores())
    if metric == "exact":
        if len(set(scores)) < len(scores):  # a tied answer is not an exact order
            return 0.0
        return metrics.exact_order(sorted(range(q.n), key=lambda i: -scores[i]), q.true_order())
    raise ConfigError(f"unknown metric {metric!r}")


def _mean_row(
    run: LoadedRun, level: str, metric: str, outs: list[Outcome], n_resamples: int, seed: int
) -> ScoreRow:
    values = [question_value(o, metric, run.method) for o in outs]
    kept = [v for v in values if v is not None]
    score = float(np.mean(kept)) if kept else math.nan
    lo, hi = stats.bootstrap_ci(kept, n_resamples=n_resamples, rng=np.random.default_rng(seed))
    return ScoreRow(
        model=run.model,
        method=run.method,
        level=level,
        metric=metric,
        score=score,
        ci_low=lo,
        ci_high=hi,
        n_questions=len(outs),
        n_failed=sum(o.status == "failed" for o in outs),
        n_missing=sum(o.status == "missing" for o in outs),
        n_scored=len(kept),
        failure_policy=POLICY_SKIP if metric == "official-v1" else POLICY_ZERO,
        run=str(run.path),
        variant=run.variant,
    )


def cost_series(preds: Sequence[Prediction], method: str) -> dict[str, list[float]]:
    """Per answered question, what answering cost: model calls (retries and samples
    included) and, for pairwise runs, the share of pairs asked in both orders whose two
    answers disagree. Empty for runs that make no calls (baselines). Shared by the
    `score` rows and the end-of-run summary, so both report the same figures."""
    if not any(p.n_calls for p in preds):
        return {}
    series = {CALLS: [float(p.n_calls) for p in preds]}
    if method == "pair":
        rates = [p.extra.get("inconsistency_rate") for p in preds]
        series[INCONSISTENCY] = [float(r) for r in rates if isinstance(r, (int, float))]
    return series


def _cost_rows(run: LoadedRun, level: str, outs: list[Outcome], n_resamples: int, seed: int) -> list[ScoreRow]:
    """`cost_series` of the level's answered questions, as rows with bootstrap CIs."""
    answered = [o.prediction for o in outs if o.prediction is not None]
    rows = []
    for metric, values in cost_series(answered, run.method).items():
        lo, hi = stats.bootstrap_ci(values, n_resamples=n_resamples, rng=np.random.default_rng(seed))
        rows.append(ScoreRow(
            model=run.model, method=run.method, level=level, metric=metric,
            score=float(np.mean(values)) if values else math.nan, ci_low=lo, ci_high=hi,
            n_questions=len(outs), n_failed=sum(o.status == "failed" for o in outs),
            n_missing=sum(o.status == "missing" for o in outs), n_scored=len(values),
            failure_policy=POLICY_ANSWERED, run=str(run.path), variant=run.variant,
        ))
    return rows


def _pooled_rating_rows(
    run: LoadedRun, level: str, outs: list[Outcome], n_resamples: int, seed: int
) -> list[ScoreRow]:
    """MAE / RMSE (predicted vs true rating) and Pearson (predicted vs true relative rating),
    pooled over the users of answered questions; CIs resample whole questions."""
    qidx: list[int] = []
    err: list[float] = []
    rel_q: list[int] = []
    rel_p: list[float] = []
    rel_t: list[float] = []
    n_used = 0
    for o in outs:
        if o.status != "ok" or o.prediction is None:
            continue
        pred, q = o.prediction, o.question
        n_used += 1
        for i, m in enumerate(q.users):
            rating = pred.ratings[i] if pred.ratings is not None else None
            if rating is not None:
                qidx.append(n_used - 1)
                err.append(float(rating) - m.rating)
            if pred.scores is not None:
                rel_q.append(n_used - 1)
                rel_p.append(float(pred.scores[i]))
                rel_t.append(m.relative_rating)
            elif rating is not None:
                rel_q.append(n_used - 1)
                rel_p.append(float(rating) - m.avg_rating)
                rel_t.append(m.relative_rating)
    weights = stats.cluster_weights(n_used, n_resamples, np.random.default_rng(seed))
    e = np.asarray(err)
    wm = weights[:, qidx] if n_used else np.zeros((n_resamples, 0))
    sw = wm.sum(axis=1)
    ok = sw > 0

    def ci(samples: np.ndarray) -> tuple[float, float]:
        samples = samples[np.isfinite(samples)]
        if samples.size == 0:
            return (math.nan, math.nan)
        lo, hi = np.quantile(samples, [0.025, 0.975])
        return (float(lo), float(hi))

    with np.errstate(invalid="ignore", divide="ignore"):
        mae_s = np.where(ok, (wm @ np.abs(e)) / sw, np.nan) if e.size else np.empty(0)
        rmse_s = np.where(ok, np.sqrt((wm @ e**2) / sw), np.nan) if e.size else np.empty(0)
    pw = weights[:, rel_q] if n_used else np.zeros((n_resamples, 0))
    p, t = np.asarray(rel_p), np.asarray(rel_t)
    pearson_s = _weighted_pearson(pw, p, t) if p.size else np.empty(0)
    base = dict(
        model=run.model,
        method=run.method,
        level=level,
        n_questions=len(outs),
        n_failed=sum(o.status == "failed" for o in outs),
        n_missing=sum(o.status == "missing" for o in outs),
        n_scored=n_used,
        failure_policy=POLICY_EXCLUDE,
        run=str(run.path),
        variant=run.variant,
    )
    rows = [
        ScoreRow(
            metric="mae",
            score=metrics.mae(e, np.zeros_like(e)),
            ci_low=ci(mae_s)[0],
            ci_high=ci(mae_s)[1],
            **base,
        ),
        ScoreRow(
            metric="rmse",
            score=metrics.rmse(e, np.zeros_like(e)),
            ci_low=ci(rmse_s)[0],
            ci_high=ci(rmse_s)[1],
            **base,
        ),
        ScoreRow(
            metric="pearson",
            score=metrics.pearson(p, t) if p.size else math.nan,
            ci_low=ci(pearson_s)[0],
            ci_high=ci(pearson_s)[1],
            **base,
        ),
    ]
    return rows


def _weighted_pearson(w: np.ndarray, p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Pearson per row of weights `w` (resamples x members); constant sides give 0."""
    sw = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mp, mt = (w @ p) / sw, (w @ t) / sw
        cov = (w @ (p * t)) / sw - mp * mt
        vp = (w @ (p * p)) / sw - mp**2
        vt = (w @ (t * t)) / sw - mt**2
        denom = np.sqrt(np.clip(vp, 0, None) * np.clip(vt, 0, None))
        r = np.where(denom > 1e-12, cov / denom, 0.0)
    r = np.where(sw > 0, np.clip(r, -1.0, 1.0), np.nan)
    return r


def score_run(
    run: LoadedRun,
    metric: str = "tau-b",
    n_resamples: int = 1000,
    seed: int = 0,
    extra: bool = True,
) -> list[ScoreRow]:
    """Rows for every level of the run: the tau metric, then (with `extra`) exact-order,
    pairwise accuracy, and for pointwise runs MAE, RMSE, Pearson.

    Every row bootstraps with a fresh Generator seeded by `seed`, so a row does not
    depend on which other runs are scored alongside it.
    """
    if metric not in TAU_METRICS:
        raise ConfigError(f"unknown metric {metric!r}; choose from {', '.join(TAU_METRICS)}")
    rows = []
    for level in run.levels:
        outs = outcomes(run, level)
        rows.append(_mean_row(run, level, metric, outs, n_resamples, seed))
        if extra:
            for m in ("exact", "pair_acc"):
                rows.append(_mean_row(run, level, m, outs, n_resamples, seed))
            if run.method == "point":
                rows.extend(_pooled_rating_rows(run, level, outs, n_resamples, seed))
            rows.extend(_cost_rows(run, level, outs, n_resamples, seed))
    return rows


def score_runs(
    runs: Sequence[LoadedRun],
    metric: str = "tau-b",
    n_resamples: int = 1000,
    seed: int = 0,
    extra: bool = True,
) -> list[ScoreRow]:
    out: list[ScoreRow] = []
    for run in runs:
        out.extend(score_run(run, metric, n_resamples, seed, extra))
    return out


# --- averages and comparisons -------------------------------------------------------------


@dataclass(frozen=True)
class AverageRow:
    """A model's "Avg.": the mean of its (level, method) tau cells."""

    model: str
    metric: str
    score: float
    n_cells: int
    complete: bool  # all 9 cells present; otherwise the mean of those that exist

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cell_averages(
    rows: Sequence[ScoreRow], metric: str | None = None, label=lambda r: r.model
) -> list[AverageRow]:
    """Per model (as named by `label`), the mean of its level x method cells for `metric`."""
    metric = metric or next((r.metric for r in rows if r.metric in TAU_METRICS), "tau-b")
    cells: dict[str, dict[tuple[str, str], float]] = {}
    for r in rows:
        if r.metric == metric and not math.isnan(r.score):
            cells.setdefault(label(r), {})[(r.level, r.method)] = r.score
    full = len(LEVELS) * len(METHODS)
    return [
        AverageRow(model, metric, float(np.mean(list(c.values()))), len(c), len(c) == full)
        for model, c in cells.items()
    ]


@dataclass(frozen=True)
class ComparisonRow:
    """Paired comparison of run A vs run B on one level's shared questions (A - B)."""

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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare_runs(
    a: LoadedRun, b: LoadedRun, metric: str = "tau-b", n_resamples: int = 1000, seed: int = 0
) -> list[ComparisonRow]:
    """Per shared level: paired difference of per-question values, bootstrap CI, sign-flip p.

    tau-b pairs every question (failed = 0); official-v1 pairs the questions both runs
    answered, as the released evaluator would score them.
    """
    if metric not in TAU_METRICS:
        raise ConfigError(f"unknown metric {metric!r}; choose from {', '.join(TAU_METRICS)}")
    fa, fb = bench_fingerprint(a.bench.path), bench_fingerprint(b.bench.path)
    if fa != fb or a.split != b.split:
        raise BenchmarkError(
            f"{a.path} and {b.path} were run on different benchmarks or splits; cannot pair them"
        )
    rows = []
    for level in [lv for lv in a.levels if lv in b.levels]:
        va = [question_value(o, metric, a.method) for o in outcomes(a, level)]
        vb = [question_value(o, metric, b.method) for o in outcomes(b, level)]
        pairs = [(x, y) for x, y in zip(va, vb, strict=True) if x is not None and y is not None]
        xa = [x for x, _ in pairs]
        xb = [y for _, y in pairs]
        res = stats.paired_comparison(
            xa, xb, rng=np.random.default_rng(seed), n_resamples=n_resamples
        )
        rows.append(
            ComparisonRow(
                level=level,
                metric=metric,
                model_a=a.model,
                method_a=a.method,
                model_b=b.model,
                method_b=b.method,
                score_a=float(np.mean(xa)) if xa else math.nan,
                score_b=float(np.mean(xb)) if xb else math.nan,
                diff=res.mean_diff,
                ci_low=res.ci_low,
                ci_high=res.ci_high,
                p_value=res.p_value,
                n=res.n,
                exact_p=res.exact,
            )
        )
    if not rows:
        raise ConfigError(f"{a.path} and {b.path} share no level to compare")
    return rows
