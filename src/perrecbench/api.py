"""The Python API a notebook uses, re-exported by the package root (`perrecbench.evaluate`):

    bench = perrecbench.open_benchmark("bench/")
    rows = perrecbench.evaluate(MyRec(), bench, methods=["list"], out="runs/myrec")
    rows = perrecbench.score_runs(["runs/myrec"])

`evaluate` runs a recommender object through the runner `perrecbench run` uses (resume,
`--limit`, call logs, the same run directory) and returns the rows `perrecbench score
DIR --format json` prints; `score_runs` returns those rows for existing run directories.
This module sits above every stage (it only calls them).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import warnings
from collections.abc import Coroutine, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from .bench import Benchmark
from .constants import DEFAULT_CONCURRENCY, METHODS
from .errors import BenchmarkError, ConfigError
from .models.base import Recommender, ScoreRecommender, model_spec
from .records import Prediction
from .run.plan import RunRequest, parse_levels, parse_methods, run_dirs_for
from .run.runner import (
    Job,
    RunOptions,
    RunSummary,
    questions_at_once,
    run_jobs_async,
)
from .tasks import DEFAULT_PAIRS
from .types import Question

__all__ = ["Prediction", "Question", "Recommender", "ScoreRecommender", "evaluate", "open_benchmark",
           "score_runs"]

T = TypeVar("T")


def open_benchmark(path: Path | str) -> Benchmark:
    """The benchmark in `path` (`.questions(split=, level=)`, `.context.history(user_id,
    before=timestamp)`: a member's reviews strictly before that time)."""
    bench = Benchmark(path)
    if not bench.available("test") and not bench.available("heldout") and not bench.available("train"):
        raise BenchmarkError(f"{path} is not a benchmark directory (no question files)")
    return bench


def score_runs(run_dirs: Sequence[Path | str] | Path | str, metric: str = "tau-b", bench: Path | str | None = None,
               seed: int = 0, resamples: int = 1000) -> list[dict[str, Any]]:
    """The rows `perrecbench score RUN... --format json` prints, as dicts."""
    from .score.metric_table import TAU_METRICS
    from .score.runs import load_runs
    from .score.scoring import score_runs as _score

    if metric not in TAU_METRICS:
        raise ConfigError(f"metric must be one of {', '.join(TAU_METRICS)}, got {metric!r}")
    if resamples < 1:
        raise ConfigError("resamples must be at least 1")
    dirs = [run_dirs] if isinstance(run_dirs, (str, Path)) else list(run_dirs)
    runs = load_runs(dirs, bench)
    for run in runs:
        for w in run.warnings:
            warnings.warn(w, stacklevel=2)
    return [row.to_dict() for row in _score(runs, metric, n_resamples=resamples, seed=seed)]


def _methods(methods: Sequence[str] | str) -> list[str]:
    return parse_methods(methods if isinstance(methods, str) else ",".join(methods))


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, also from a notebook (whose event loop already runs in this thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def evaluate(model: Recommender | str, bench: Benchmark | Path | str, *, out: Path | str,
             methods: Sequence[str] | str = METHODS, levels: Sequence[str] | str | None = None,
             limit: int | None = None, split: str = "test", options: dict[str, Any] | None = None,
             metric: str = "tau-b", max_concurrency: int = DEFAULT_CONCURRENCY, reask: str = "transient",
             pairs: int | None = DEFAULT_PAIRS, rating_seed: int = 0) -> list[dict[str, Any]]:
    """Run `model` (a recommender object, or a `--model` spec with `options`) with each
    method into `out` (`out/<method>` for several), resuming what is there, and return the
    score rows of those runs. The object answers every method; it is closed at the end."""
    method_list = _methods(methods)
    level_list = parse_levels(levels if levels is None or isinstance(levels, str) else ",".join(levels))
    settings = RunOptions(levels=level_list, split=split, max_concurrency=max_concurrency, limit=limit,
                          reask=reask, pairs=pairs, rating_seed=rating_seed)  # checked before anything runs
    if not isinstance(bench, Benchmark):
        bench = open_benchmark(bench)
    if isinstance(model, str):  # a spec: the model and its jobs exactly as `perrecbench run` makes them
        request = RunRequest(bench=bench.path, model=model, methods=method_list, out=Path(out), levels=level_list,
                             split=split, limit=limit, max_concurrency=max_concurrency, reask=reask,
                             options=dict(options or {}), pairs=pairs, rating_seed=rating_seed)
        for w in request.entry.warnings:
            warnings.warn(w, stacklevel=2)
        _, jobs = request.create_jobs()
        settings = request.run_options()
    else:
        instance = _instance(model, options)
        jobs = [Job(instance, m, d) for m, d in zip(method_list, run_dirs_for(Path(out), method_list), strict=True)]
        settings = replace(settings, max_concurrency=questions_at_once(max_concurrency, instance.makes_calls))
    summaries: list[RunSummary] = _run_sync(run_jobs_async(jobs, bench, settings))
    if any(s.interrupted for s in summaries):
        raise KeyboardInterrupt
    return score_runs([j.run_dir for j in jobs], metric)


def _instance(model: Any, options: dict[str, Any] | None) -> Recommender:
    """The recommender object handed to `evaluate` (named by its spec when it has no name)."""
    if isinstance(model, Recommender):
        if options:
            raise ConfigError("options are for a model named by its spec; an object comes with its own")
        if not model.name or model.name == Recommender.name:
            model.name = model_spec(model)
        return model
    if isinstance(model, type) and issubclass(model, Recommender):
        raise ConfigError(f"evaluate() takes a recommender object: {model.__name__}() or {model.__name__}(options), "
                          "not the class")
    raise ConfigError(f"evaluate() takes a perrecbench Recommender or a model spec, not {type(model).__name__}")
