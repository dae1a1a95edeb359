"""Run one recommender with one method over benchmark levels, resumably and concurrently."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..bench import Benchmark
from ..errors import ConfigError
from ..models.base import Recommender
from ..types import Prediction, Question
from .rundir import PredictionRecord, RunDir, bench_fingerprint

#: predictions (and the model's cache rows and call log lines) are written in batches
#: at most this many seconds apart, instead of one write + flush per answer
FLUSH_S = 0.2
IDENTITY = ("model", "method", "split", "bench_fingerprint", "model_config")


@dataclass
class RunSummary:
    run_dir: Path
    total: int = 0
    skipped: int = 0  # already answered by an earlier (interrupted) run
    answered: int = 0
    failed: int = 0
    interrupted: bool = False
    elapsed_s: float = 0.0
    per_level: dict[str, int] = field(default_factory=dict)


ProgressFn = Callable[[int, int, dict[str, Any]], None]


async def run_async(
    model: Recommender,
    bench: Benchmark,
    method: str,
    run_dir: Path,
    levels: list[str] | None = None,
    split: str = "test",
    max_concurrency: int = 8,
    limit: int | None = None,
    retry_failed: bool | Callable[[Prediction], bool] = True,
    progress: ProgressFn | None = None,
) -> RunSummary:
    """Answer every question not yet answered in `run_dir`; append each answer as it lands.

    Cancellation (Ctrl-C) stops new work; answers already written stay, and running
    the same command again resumes. `retry_failed` re-asks failed questions: all of
    them (True), none (False), or those for which the callable returns True.
    """
    if method not in model.methods:
        raise ConfigError(f"{model.name} does not support method {method!r} (supports {model.methods})")
    levels = levels or bench.available(split)
    if not levels:
        raise ConfigError(f"{bench.path} has no {split} questions")
    rd = RunDir(run_dir)
    manifest = {
        "model": model.name,
        "method": method,
        "split": split,
        "bench": str(bench.path.resolve()),
        "bench_name": bench.name,
        "bench_fingerprint": bench_fingerprint(bench.path),
        "levels": sorted(levels),
        "model_config": model.config(),
        "tool_version": __version__,
    }
    rd.open_or_create(manifest, IDENTITY)
    done = {
        (r.level, r.prediction.question_id)
        for r in rd.read_predictions(repair=True)
        if r.prediction.ok or not (retry_failed(r.prediction) if callable(retry_failed) else retry_failed)
    }
    model.prepare(bench, split)

    todo: list[tuple[str, Question]] = []
    summary = RunSummary(run_dir=Path(run_dir))
    for level in levels:
        qs = bench.questions(split, level)
        if limit is not None:
            qs = qs[:limit]
        summary.total += len(qs)
        summary.per_level[level] = len(qs)
        for q in qs:
            if (level, q.id) in done:
                summary.skipped += 1
            else:
                todo.append((level, q))

    start = time.monotonic()
    sem = asyncio.Semaphore(max(1, max_concurrency))
    out = rd.appender()
    pending: list[str] = []
    last_flush = time.monotonic()
    model_flush = getattr(model, "flush", None)
    timer: asyncio.TimerHandle | None = None

    def flush() -> None:
        """Model first (cache, call log), then the predictions that rely on it: a kill -9
        loses at most the answers of the last FLUSH_S, never half of one."""
        nonlocal last_flush, timer
        if timer is not None:
            timer.cancel()
            timer = None
        last_flush = time.monotonic()
        if model_flush is not None:
            model_flush()
        if pending:
            out.write("".join(pending))
            pending.clear()
            out.flush()

    async def one(level: str, q: Question) -> None:
        nonlocal timer
        async with sem:
            try:
                pred = await model.predict(q, method)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug or transport error: record, never lose the run
                pred = Prediction(
                    question_id=q.id,
                    status="failed",
                    failure="error",
                    failure_detail=f"{type(exc).__name__}: {exc}"[:500],
                )
        pending.append(PredictionRecord(level, split, pred).to_json() + "\n")
        if time.monotonic() - last_flush >= FLUSH_S:
            flush()
        elif timer is None:
            timer = asyncio.get_running_loop().call_later(FLUSH_S, flush)
        summary.answered += 1
        if not pred.ok:
            summary.failed += 1
        if progress:
            progress(summary.answered, len(todo), getattr(model, "stats", dict)())

    tasks = [asyncio.ensure_future(one(level, q)) for level, q in todo]
    try:
        if tasks:
            await asyncio.gather(*tasks)
    except (asyncio.CancelledError, KeyboardInterrupt):
        summary.interrupted = True
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        flush()
        out.close()
        summary.elapsed_s = time.monotonic() - start
        await model.aclose()
    return summary


def run(*args: Any, **kwargs: Any) -> RunSummary:
    """Synchronous wrapper; Ctrl-C leaves a resumable run directory behind."""
    return asyncio.run(run_async(*args, **kwargs))
