"""Run recommenders over benchmark levels, resumably and concurrently.

One call may run several methods at once (`Job`s), each into its own run directory:
they share the question slots and -- when the jobs share one model object -- the
model's connection, cache, rate limits and prompt building, so `--method
point,pair,list` pays start-up once and keeps the request pipe full across methods.
Each model's call records go to the call log of the job's run directory (`calllog`).
A `rating` job (the rating-prediction task) asks the one-member questions of level
`rating` that `tasks.questions_for` makes from the benchmark, through the same slots.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import failures
from ..bench import Benchmark
from ..constants import DEFAULT_CONCURRENCY, RATING, __version__
from ..errors import ConfigError, PerRecBenchError, StorageFull, storage_full
from ..locking import output_lock
from ..models.base import Recommender, UsageStats, model_spec, source_hash
from ..records import Prediction, PredictionLine, RunManifest
from ..tasks import DEFAULT_PAIRS, questions_for
from ..types import Question
from .calllog import CallRouter
from .reask import ReaskPolicy, should_reask
from .rundir import RunDir

#: predictions (and the models' call log lines) are written in batches at most this many
#: seconds apart, instead of one write + flush per answer
FLUSH_S = 0.2
#: questions of methods with longer chains of dependent requests start first, so the
#: end of a mixed run is not one long pairwise chain waiting alone
_CHAIN_ORDER = {"pair": 0, "point": 1, "rating": 1, "list": 2}


@dataclass
class RunSummary:
    run_dir: Path
    method: str = ""
    total: int = 0
    skipped: int = 0  # already answered by an earlier (interrupted) run
    answered: int = 0
    failed: int = 0
    interrupted: bool = False
    elapsed_s: float = 0.0
    per_level: dict[str, int] = field(default_factory=dict)


@dataclass
class Job:
    """One model with one method into one run directory."""

    model: Recommender
    method: str
    run_dir: Path


ProgressFn = Callable[[int, int, UsageStats], None]


class _Output:
    """A job's run directory while it runs: answers wait in memory until `write`."""

    def __init__(self, run_dir: Path, summary: RunSummary):
        self.summary = summary
        self.rd = RunDir(run_dir)
        self.fh = self.rd.appender()
        self.pending: list[str] = []
        self.broken = False  # a write failed: nothing more is appended after a torn line

    def write(self) -> None:
        if self.pending and not self.broken:
            try:
                self.fh.write("".join(self.pending))
                self.pending.clear()
                self.fh.flush()
            except OSError as exc:
                self.broken = True
                full = storage_full(exc, self.rd.predictions_path)
                if full is None:
                    raise
                raise full from exc

    def close(self) -> None:
        try:
            self.fh.close()
        except OSError:  # what a full disk kept in the buffer is lost; the failure was reported
            if not self.broken:
                raise


def _open_job(job: Job, bench: Benchmark, asked: dict[str, int], split: str,
              reask: ReaskPolicy, rating_seed: int) -> set[tuple[str, str]]:
    """Create or resume the job's run directory; the (level, question) pairs already done."""
    model = job.model
    rd = RunDir(job.run_dir)
    manifest = RunManifest(
        model=model.name, method=job.method, split=split, bench=str(bench.path.resolve()),
        bench_name=bench.name, bench_fingerprint=bench.fingerprint, levels=sorted(asked),
        asked=dict(asked), model_config=model.config(), variant=model.variant(), tool_version=__version__,
        rating_seed=rating_seed if job.method == RATING else None, **_class_identity(model),
    )
    rd.open_or_create(manifest)
    return {
        (r.level, r.prediction.question_id)
        for r in rd.read_predictions(repair=True)
        if not should_reask(r.prediction, reask)
    }


def _class_identity(model: Recommender) -> dict[str, str | None]:
    """A user's or a plugin's class: its spec and the hash of its source (none for ours)."""
    source = source_hash(type(model))
    return {"model_spec": model_spec(model), "model_source": source} if source else {}


def _distinct(models: Sequence[Recommender]) -> list[Recommender]:
    out: list[Recommender] = []
    for m in models:
        if not any(m is o for o in out):
            out.append(m)
    return out


def _routers(jobs: Sequence[Job], models: Sequence[Recommender]) -> list[CallRouter]:
    """One call router per model, over the run directories of that model's jobs."""
    routers = []
    for m in models:
        mine = {j.method: Path(j.run_dir) for j in jobs if j.model is m}
        if len(mine) != sum(1 for j in jobs if j.model is m):
            raise ConfigError(f"{m.name}: one model object answers each method into one run directory")
        routers.append(CallRouter(mine))
    return routers


async def run_jobs_async(
    jobs: Sequence[Job],
    bench: Benchmark,
    levels: list[str] | None = None,
    split: str = "test",
    max_concurrency: int = DEFAULT_CONCURRENCY,
    limit: int | None = None,
    reask: ReaskPolicy = "transient",
    progress: ProgressFn | None = None,
    pairs: int | None = DEFAULT_PAIRS,
    rating_seed: int = 0,
) -> list[RunSummary]:
    """Answer every question not yet answered in each job's run directory.

    Questions of all jobs share `max_concurrency` slots; each question's methods are
    queued next to each other (so a model can reuse the question's Components).
    Cancellation (Ctrl-C) stops new work; answers already written stay, and running
    the same command again resumes. `reask` says which failed answers of an earlier
    run are asked again (see `reask`). A setting that cannot work or a broken
    benchmark (any `PerRecBenchError`) stops the run; a bug in a model is recorded as
    an `internal` failure of its question and the run goes on. `rating` jobs ask the
    first `min(pairs, limit)` pairs of the rating sample of seed `rating_seed` (`tasks`;
    `levels` apply to the preference methods only).
    """
    models = _distinct([j.model for j in jobs])
    routers: list[CallRouter] = []
    locks = ExitStack()
    try:
        locks.enter_context(output_lock(*(j.run_dir for j in jobs)))  # one writer per run directory
        if not jobs:
            raise ConfigError("nothing to run")
        dirs = [Path(j.run_dir).resolve() for j in jobs]
        if len(set(dirs)) != len(dirs):
            raise ConfigError("two jobs write into the same run directory")
        levels = levels or bench.available(split)
        if not levels:
            raise ConfigError(f"{bench.path} has no {split} questions")
        for j in jobs:  # every job is checked before any run directory is created
            if j.method not in j.model.methods:
                raise ConfigError(f"{j.model.name} does not support method {j.method!r} (supports {j.model.methods})")
        routers = _routers(jobs, models)
        sets = _question_sets(jobs, bench, levels, split, limit, pairs, rating_seed)
        return await _run(jobs, models, routers, bench, sets, split, max_concurrency, reask, rating_seed,
                          progress)
    finally:  # also when setting up failed: a model may hold helper processes since check()
        for m in models:
            await m.aclose()
        for r in routers:
            r.close()
        locks.close()


QuestionSet = tuple[dict[str, list[Question]], list[int]]


def _question_sets(jobs: Sequence[Job], bench: Benchmark, levels: list[str], split: str, limit: int | None,
                   pairs: int | None, rating_seed: int) -> list[QuestionSet]:
    """(questions per level, the indices of the jobs asked them): the preference jobs share
    the benchmark's levels, the rating jobs the rating sample. Within a set, jobs with
    longer chains of dependent requests come first."""
    order = sorted(range(len(jobs)), key=lambda i: _CHAIN_ORDER.get(jobs[i].method, 9))
    out: list[QuestionSet] = []
    for rating in (False, True):
        mine = [i for i in order if (jobs[i].method == RATING) == rating]
        if mine:
            method = RATING if rating else jobs[mine[0]].method
            out.append((questions_for(bench, method, split, levels, limit, pairs, rating_seed), mine))
    return out


def _truth_seers(models: Sequence[Recommender]) -> set[int]:
    """The ids of the models handed the truth of the split they evaluate (the built-in
    oracle); every other model gets public questions and a public benchmark."""
    from ..models.baselines import sees_truth

    return {id(m) for m in models if sees_truth(m)}


async def _run(jobs: Sequence[Job], models: list[Recommender], routers: list[CallRouter], bench: Benchmark,
               sets: list[QuestionSet], split: str, max_concurrency: int, reask: ReaskPolicy, rating_seed: int,
               progress: ProgressFn | None) -> list[RunSummary]:
    asked: dict[int, dict[str, int]] = {}
    for questions, mine in sets:
        for i in mine:
            asked[i] = {lv: len(qs) for lv, qs in questions.items()}
    done = [_open_job(j, bench, asked[i], split, reask, rating_seed) for i, j in enumerate(jobs)]
    truth = _truth_seers(models)
    for m, router in zip(models, routers, strict=True):  # no truth of `split` for the others
        m.prepare(bench if id(m) in truth else bench.public(split), split, router)

    summaries = [RunSummary(run_dir=Path(j.run_dir), method=j.method) for j in jobs]
    todo: list[tuple[int, str, Question]] = []
    for questions, mine in sets:
        for level, qs in questions.items():
            for i in mine:
                summaries[i].total += len(qs)
                summaries[i].per_level[level] = len(qs)
            for q in qs:  # a question's methods next to each other: they share its Components
                shown = q.public()  # one object per question: models memoise by identity
                for i in mine:
                    if (level, q.id) in done[i]:
                        summaries[i].skipped += 1
                    else:
                        todo.append((i, level, q if id(jobs[i].model) in truth else shown))

    start = time.monotonic()
    sem = asyncio.Semaphore(max(1, max_concurrency))
    outs = [_Output(j.run_dir, s) for j, s in zip(jobs, summaries, strict=True)]
    last_flush = time.monotonic()
    timer: asyncio.TimerHandle | None = None
    answered = 0
    tasks: list[asyncio.Future[None]] = []
    full: list[StorageFull] = []  # the first write that failed for lack of room

    def halt(exc: StorageFull) -> None:
        """A write failed for lack of room: no new request is sent, the run stops."""
        if not full:
            full.append(exc)
            for t in tasks:
                t.cancel()

    def flush() -> None:
        """Models first (memoised Components; their answers are in the cache already),
        then their call records, then the predictions: a kill -9 loses at most the last
        FLUSH_S of log lines and predictions, never half of one, and the re-run finds
        those answers cached. A write that fails for lack of room stops the run."""
        nonlocal last_flush, timer
        if timer is not None:
            timer.cancel()
            timer = None
        last_flush = time.monotonic()
        if full:
            return  # what is left is kept by rescue() at the end
        try:
            for m in models:
                m.flush()
            for r in routers:
                r.flush()
            for o in outs:
                o.write()
        except (OSError, StorageFull) as exc:
            err = storage_full(exc, getattr(exc, "filename", None) or Path(jobs[0].run_dir))
            if err is None:
                raise
            halt(err)

    def rescue() -> None:
        """After a write failed for lack of room: keep what is in memory in the order that
        loses least -- the predictions (answers a rerun need not ask again), then the call
        records, then what the models hold (cache entries) -- each as far as room allows."""
        for step in [o.write for o in outs] + [r.flush for r in routers] + [m.flush for m in models]:
            try:
                step()
            except (OSError, StorageFull) as exc:
                if storage_full(exc, "") is None:
                    raise

    def stats() -> UsageStats:
        total = UsageStats()
        for m in models:
            total = total + m.stats()
        return total

    def record(i: int, level: str, pred: Prediction) -> None:
        nonlocal timer, answered
        out = outs[i]
        out.pending.append(PredictionLine(level=level, split=split, prediction=pred).to_json() + "\n")
        if time.monotonic() - last_flush >= FLUSH_S:
            flush()
        elif timer is None:
            timer = asyncio.get_running_loop().call_later(FLUSH_S, flush)
        out.summary.answered += 1
        if not pred.ok:
            out.summary.failed += 1
        answered += 1
        if progress:
            progress(answered, len(todo), stats())

    async def one(i: int, items: list[tuple[str, Question]]) -> None:
        """One question (`predict`), or a batch of a model that declares a batch size."""
        job = jobs[i]
        questions = [q for _, q in items]
        async with sem:
            try:
                if len(items) == 1 and job.model.batch_size() <= 1:
                    preds = [await job.model.predict(questions[0], job.method)]
                else:
                    preds = await _batch_answers(job.model, questions, job.method)
            except (asyncio.CancelledError, PerRecBenchError):
                raise  # a broken benchmark or a setting that cannot work stops the run (answers so far are kept)
            except Exception as exc:  # a bug: record it, never lose the run
                preds = [Prediction.failed(q.id, failures.INTERNAL, f"{type(exc).__name__}: {exc}")
                         for q in questions]
        for (level, _), pred in zip(items, preds, strict=True):
            record(i, level, pred)

    tasks.extend(asyncio.ensure_future(one(i, items)) for i, items in _units(jobs, todo))
    interrupted = False
    try:
        if tasks:
            await asyncio.gather(*tasks)
    except BaseException as exc:  # Ctrl-C, a full disk, or an error that stops the whole run
        if isinstance(exc, StorageFull):
            halt(exc)
        interrupted = not full and isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt))
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if not interrupted and not full:
            raise
    finally:
        flush()
        if full:
            rescue()
        for o in outs:
            o.close()
        elapsed = time.monotonic() - start
        for s in summaries:
            s.elapsed_s, s.interrupted = elapsed, interrupted
    if full:
        raise full[0]
    return summaries


def _units(jobs: Sequence[Job], todo: list[tuple[int, str, Question]]) -> list[tuple[int, list[tuple[str, Question]]]]:
    """What each slot answers in one go: a question, or for a model with a batch size, up
    to that many questions of one job (in the order they were queued)."""
    units: list[tuple[int, list[tuple[str, Question]]]] = []
    open_batch: dict[int, list[tuple[str, Question]]] = {}
    for i, level, q in todo:
        size = jobs[i].model.batch_size()
        if size <= 1:
            units.append((i, [(level, q)]))
            continue
        batch = open_batch.get(i)
        if batch is None or len(batch) >= size:
            batch = open_batch[i] = []
            units.append((i, batch))
        batch.append((level, q))
    return units


async def _batch_answers(model: Recommender, questions: list[Question], method: str) -> list[Prediction]:
    """`predict_batch`, checked: one answer per question, each for its question."""
    preds = list(await model.predict_batch(questions, method))
    if len(preds) != len(questions):
        raise ValueError(f"predict_batch returned {len(preds)} answers for {len(questions)} questions")
    for q, p in zip(questions, preds, strict=True):
        if p.question_id != q.id:
            raise ValueError(f"predict_batch answered {p.question_id!r} in the place of {q.id!r}")
    return preds


async def run_async(model: Recommender, bench: Benchmark, method: str, run_dir: Path,
                    **options: Any) -> RunSummary:
    """One model, one method, one run directory; `options` are `run_jobs_async`'s
    (levels, split, max_concurrency, limit, reask, progress, pairs, rating_seed)."""
    summaries = await run_jobs_async([Job(model, method, Path(run_dir))], bench, **options)
    return summaries[0]


def run(*args: Any, **kwargs: Any) -> RunSummary:
    """Synchronous wrapper; Ctrl-C leaves a resumable run directory behind."""
    return asyncio.run(run_async(*args, **kwargs))


def run_jobs(*args: Any, **kwargs: Any) -> list[RunSummary]:
    """Synchronous wrapper of `run_jobs_async`."""
    return asyncio.run(run_jobs_async(*args, **kwargs))
