"""Run recommenders over benchmark levels, resumably and concurrently.

One call may run several methods at once (`Job`s), each into its own run directory:
they share the question slots and -- when the jobs share one model object -- the
model's connection, cache, rate limits and prompt building, so `--method
point,pair,list` pays start-up once and keeps the request pipe full across methods.
Each model's call records go to the call log of the job's run directory (`calllog`).
A `rating` job (the rating-prediction task) asks the one-member questions of level
`rating` that `tasks.questions_for` makes from the benchmark, through the same slots.
What a slot answers in one go is a `Unit`: one question, or a batch of one job's
questions for a model that answers many in one call (`Recommender.batch_size`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from .. import failures
from ..bench import Benchmark
from ..constants import DEFAULT_CONCURRENCY, LEVELS, RATING, SPLITS, __version__
from ..errors import ConfigError, PerRecBenchError, StorageFull, storage_full
from ..locking import output_lock
from ..models.base import Recommender, UsageStats, model_spec, source_hash
from ..records import Prediction, PredictionLine, RunManifest
from ..tasks import DEFAULT_PAIRS, questions_for
from ..types import Question
from .calllog import CallRouter
from .reask import ReaskPolicy, check_policy, should_reask
from .rundir import RunDir

#: predictions (and the models' call log lines) are written in batches at most this many
#: seconds apart, instead of one write + flush per answer
FLUSH_S = 0.2
#: questions of methods with longer chains of dependent requests start first, so the
#: end of a mixed run is not one long pairwise chain waiting alone
_CHAIN_ORDER = {"pair": 0, "point": 1, "rating": 1, "list": 2}


@dataclass(frozen=True)
class RunOptions:
    """How a run asks its questions (the same for every job of the run). Checked here,
    where a caller's values enter the runner: a negative limit would slice questions from
    the end, no slot would ask nothing.

    `levels` apply to the preference methods (None: every level of the split); `limit`
    keeps the first N questions per level (and caps `pairs`, the rating questions, None =
    all, sampled with `rating_seed`); `max_concurrency` is the number of slots, each
    answering one `Unit` at a time; `reask` says which failed answers of an earlier run
    are asked again (`reask`)."""

    levels: Sequence[str] | None = None
    split: str = "test"
    max_concurrency: int = DEFAULT_CONCURRENCY
    limit: int | None = None
    reask: ReaskPolicy = "transient"
    pairs: int | None = DEFAULT_PAIRS
    rating_seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.reask, str):
            check_policy(self.reask)
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"--limit must be at least 1, got {self.limit}")
        if self.max_concurrency < 1:
            raise ConfigError(f"--max-concurrency must be at least 1, got {self.max_concurrency}")
        if self.pairs is not None and self.pairs < 1:
            raise ConfigError(f"--pairs must be at least 1 (or all), got {self.pairs}")
        if self.split not in SPLITS:
            raise ConfigError(f"unknown split {self.split!r}; choose from {', '.join(SPLITS)}")
        if self.levels is not None:
            levels = (self.levels,) if isinstance(self.levels, str) else tuple(self.levels)
            bad = [lv for lv in levels if lv not in LEVELS]
            if bad:
                raise ConfigError(f"unknown level(s) {bad}; choose from {', '.join(LEVELS)}")
            object.__setattr__(self, "levels", levels or None)  # frozen; none given = all


def questions_at_once(max_concurrency: int, makes_calls: bool) -> int:
    """The runner's slots for `max_concurrency` requests: a model that makes calls keeps
    more questions open than request slots, so slots never wait on prompt building; one
    that computes answers `max_concurrency` at once."""
    return max_concurrency * 2 if makes_calls else max_concurrency


@dataclass
class RunSummary:
    run_dir: Path
    method: str = ""
    total: int = 0
    skipped: int = 0  # already answered by an earlier (interrupted) run
    answered: int = 0
    failed: int = 0
    replied: int = 0  # answers the model gave, usable or not (not: a transport, setup or internal failure)
    interrupted: bool = False
    elapsed_s: float = 0.0
    per_level: dict[str, int] = field(default_factory=dict)


@dataclass
class Job:
    """One model with one method into one run directory."""

    model: Recommender
    method: str
    run_dir: Path


@dataclass
class Unit:
    """What one slot answers in one go: a question, or for a model with a batch size, up
    to that many questions of one job (`predict_batch`); each with its level."""

    job: int
    items: list[tuple[str, Question]]


ProgressFn = Callable[[int, int, UsageStats], None]


def distinct_models(models: Iterable[Recommender]) -> list[Recommender]:
    """Each model object once, in order (jobs that share a model share one object)."""
    out: list[Recommender] = []
    for m in models:
        if not any(m is o for o in out):
            out.append(m)
    return out


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


def _open_job(job: Job, bench: Benchmark, asked: dict[str, int], options: RunOptions) -> set[tuple[str, str]]:
    """Create or resume the job's run directory; the (level, question) pairs already done."""
    model = job.model
    rd = RunDir(job.run_dir)
    manifest = RunManifest(
        model=model.name, method=job.method, split=options.split, bench=str(bench.path.resolve()),
        bench_name=bench.name, bench_fingerprint=bench.fingerprint, levels=sorted(asked),
        asked=dict(asked), model_config=model.config(), variant=model.variant(), tool_version=__version__,
        rating_seed=options.rating_seed if job.method == RATING else None, **_class_identity(model),
    )
    rd.open_or_create(manifest)
    return {
        (r.level, r.prediction.question_id)
        for r in rd.read_predictions(repair=True)
        if not should_reask(r.prediction, options.reask)
    }


def _class_identity(model: Recommender) -> dict[str, str | None]:
    """A user's or a plugin's class: its spec and the hash of its source (none for ours)."""
    source = source_hash(type(model))
    return {"model_spec": model_spec(model), "model_source": source} if source else {}


def _routers(jobs: Sequence[Job], models: Sequence[Recommender]) -> list[CallRouter]:
    """One call router per model, over the run directories of that model's jobs."""
    routers = []
    for m in models:
        mine = {j.method: Path(j.run_dir) for j in jobs if j.model is m}
        if len(mine) != sum(1 for j in jobs if j.model is m):
            raise ConfigError(f"{m.name}: one model object answers each method into one run directory")
        routers.append(CallRouter(mine))
    return routers


async def run_jobs_async(jobs: Sequence[Job], bench: Benchmark, options: RunOptions | None = None, *,
                         progress: ProgressFn | None = None) -> list[RunSummary]:
    """Answer every question not yet answered in each job's run directory.

    Questions of all jobs share `options.max_concurrency` slots; each question's methods
    are queued next to each other (so a model can reuse the question's Components).
    Cancellation (Ctrl-C) stops new work; answers already written stay, and running
    the same command again resumes. A setting that cannot work or a broken benchmark
    (any `PerRecBenchError`) stops the run; a bug in a model is recorded as an
    `internal` failure of its question and the run goes on. `rating` jobs ask the rating
    sample (`tasks`; `options.levels` apply to the preference methods only). `progress`
    is called after each answer with (answered, to answer, usage so far).
    """
    options = options or RunOptions()
    models = distinct_models(j.model for j in jobs)
    routers: list[CallRouter] = []
    locks = ExitStack()
    try:
        locks.enter_context(output_lock(*(j.run_dir for j in jobs)))  # one writer per run directory
        if not jobs:
            raise ConfigError("nothing to run")
        dirs = [Path(j.run_dir).resolve() for j in jobs]
        if len(set(dirs)) != len(dirs):
            raise ConfigError("two jobs write into the same run directory")
        levels = list(options.levels or bench.available(options.split))
        if not levels:
            raise ConfigError(f"{bench.path} has no {options.split} questions")
        for j in jobs:  # every job is checked before any run directory is created
            if j.method not in j.model.methods:
                raise ConfigError(f"{j.model.name} does not support method {j.method!r} (supports {j.model.methods})")
        routers = _routers(jobs, models)
        sets = _question_sets(jobs, bench, levels, options)
        summaries, units = _start(jobs, models, routers, bench, sets, options)
        return await _Run(jobs, models, routers, summaries, options.split, progress).answer_all(
            units, options.max_concurrency)
    finally:  # also when setting up failed: a model may hold helper processes since check()
        for m in models:
            await m.aclose()
        for r in routers:
            r.close()
        locks.close()


QuestionSet = tuple[dict[str, list[Question]], list[int]]


def _question_sets(jobs: Sequence[Job], bench: Benchmark, levels: list[str], options: RunOptions) -> list[QuestionSet]:
    """(questions per level, the indices of the jobs asked them): the preference jobs share
    the benchmark's levels, the rating jobs the rating sample. Within a set, jobs with
    longer chains of dependent requests come first."""
    order = sorted(range(len(jobs)), key=lambda i: _CHAIN_ORDER.get(jobs[i].method, 9))
    out: list[QuestionSet] = []
    for rating in (False, True):
        mine = [i for i in order if (jobs[i].method == RATING) == rating]
        if mine:
            method = RATING if rating else jobs[mine[0]].method
            out.append((questions_for(bench, method, options.split, levels, options.limit, options.pairs,
                                      options.rating_seed), mine))
    return out


def replied(pred: Prediction) -> bool:
    """The model gave an answer: a usable one, or text that held none (a request that never
    got a reply, a setting that cannot work or a bug is no answer from the model)."""
    return pred.ok or failures.lookup(pred.failure).kind is failures.Kind.ANSWER


def _truth_seers(models: Sequence[Recommender]) -> set[int]:
    """The ids of the models handed the truth of the split they evaluate (the built-in
    oracle); every other model gets public questions and a public benchmark."""
    from ..models.baselines import sees_truth

    return {id(m) for m in models if sees_truth(m)}


def _start(jobs: Sequence[Job], models: Sequence[Recommender], routers: Sequence[CallRouter], bench: Benchmark,
           sets: list[QuestionSet], options: RunOptions) -> tuple[list[RunSummary], list[Unit]]:
    """Open (or resume) every run directory, prepare the models (no truth of the split
    for a model that is not the oracle), and queue what is left to answer."""
    split = options.split
    asked: dict[int, dict[str, int]] = {}
    for questions, mine in sets:
        for i in mine:
            asked[i] = {lv: len(qs) for lv, qs in questions.items()}
    done = [_open_job(j, bench, asked[i], options) for i, j in enumerate(jobs)]
    truth = _truth_seers(models)
    for m, router in zip(models, routers, strict=True):
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
    return summaries, _units(jobs, todo)


class _Run:
    """One run while it answers: the jobs' outputs, the flush timer, the answers counted
    and the write that failed for lack of room. Every slot is a task of one event loop,
    so they share this state without locks."""

    def __init__(self, jobs: Sequence[Job], models: Sequence[Recommender], routers: Sequence[CallRouter],
                 summaries: list[RunSummary], split: str, progress: ProgressFn | None):
        self.jobs, self.models, self.routers = jobs, models, routers
        self.summaries, self.split, self.progress = summaries, split, progress
        self.start = time.monotonic()
        self.outs = [_Output(j.run_dir, s) for j, s in zip(jobs, summaries, strict=True)]
        self.last_flush = time.monotonic()
        self.timer: asyncio.TimerHandle | None = None
        self.answered = 0
        self.total = 0
        self.tasks: list[asyncio.Future[None]] = []
        self.full: StorageFull | None = None  # the first write that failed for lack of room

    async def answer_all(self, units: list[Unit], max_concurrency: int) -> list[RunSummary]:
        """Every unit through `max_concurrency` slots; Ctrl-C or a full disk stops the run
        with what was answered written (a full disk is raised at the end)."""
        self.total = sum(len(u.items) for u in units)
        sem = asyncio.Semaphore(max_concurrency)
        self.tasks.extend(asyncio.ensure_future(self.answer(u, sem)) for u in units)
        interrupted = False
        try:
            if self.tasks:
                await asyncio.gather(*self.tasks)
        except BaseException as exc:  # Ctrl-C, a full disk, or an error that stops the whole run
            if isinstance(exc, StorageFull):
                self.halt(exc)
            interrupted = self.full is None and isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt))
            for t in self.tasks:
                t.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            if not interrupted and self.full is None:
                raise
        finally:
            self.flush()
            if self.full is not None:
                self.rescue()
            for o in self.outs:
                o.close()
            elapsed = time.monotonic() - self.start
            for s in self.summaries:
                s.elapsed_s, s.interrupted = elapsed, interrupted
        if self.full is not None:
            raise self.full
        return self.summaries

    async def answer(self, unit: Unit, sem: asyncio.Semaphore) -> None:
        """One question (`predict`), or a batch of a model that declares a batch size."""
        job = self.jobs[unit.job]
        questions = [q for _, q in unit.items]
        async with sem:
            try:
                if len(questions) == 1 and job.model.batch_size() <= 1:
                    preds = [await job.model.predict(questions[0], job.method)]
                else:
                    preds = await _batch_answers(job.model, questions, job.method)
            except (asyncio.CancelledError, PerRecBenchError):
                raise  # a broken benchmark or a setting that cannot work stops the run (answers so far are kept)
            except Exception as exc:  # a bug: record it, never lose the run
                preds = [Prediction.failed(q.id, failures.INTERNAL, f"{type(exc).__name__}: {exc}")
                         for q in questions]
        for (level, _), pred in zip(unit.items, preds, strict=True):
            self.record(unit.job, level, pred)

    def record(self, i: int, level: str, pred: Prediction) -> None:
        out = self.outs[i]
        out.pending.append(PredictionLine(level=level, split=self.split, prediction=pred).to_json() + "\n")
        if time.monotonic() - self.last_flush >= FLUSH_S:
            self.flush()
        elif self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(FLUSH_S, self.flush)
        out.summary.answered += 1
        if not pred.ok:
            out.summary.failed += 1
        out.summary.replied += replied(pred)
        self.answered += 1
        if self.progress:
            self.progress(self.answered, self.total, self.stats())

    def stats(self) -> UsageStats:
        total = UsageStats()
        for m in self.models:
            total = total + m.stats()
        return total

    def flush(self) -> None:
        """Models first (memoised Components; their answers are in the cache already),
        then their call records, then the predictions: a kill -9 loses at most the last
        FLUSH_S of log lines and predictions, never half of one, and the re-run finds
        those answers cached. A write that fails for lack of room stops the run."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.last_flush = time.monotonic()
        if self.full is not None:
            return  # what is left is kept by rescue() at the end
        try:
            for m in self.models:
                m.flush()
            for r in self.routers:
                r.flush()
            for o in self.outs:
                o.write()
        except (OSError, StorageFull) as exc:
            err = storage_full(exc, getattr(exc, "filename", None) or Path(self.jobs[0].run_dir))
            if err is None:
                raise
            self.halt(err)

    def halt(self, exc: StorageFull) -> None:
        """A write failed for lack of room: no new request is sent, the run stops."""
        if self.full is None:
            self.full = exc
            for t in self.tasks:
                t.cancel()

    def rescue(self) -> None:
        """After a write failed for lack of room: keep what is in memory in the order that
        loses least -- the predictions (answers a rerun need not ask again), then the call
        records, then what the models hold (cache entries) -- each as far as room allows."""
        steps: list[Callable[[], None]] = [o.write for o in self.outs]
        steps += [r.flush for r in self.routers] + [m.flush for m in self.models]
        for step in steps:
            try:
                step()
            except (OSError, StorageFull) as exc:
                if storage_full(exc, "") is None:
                    raise


def _units(jobs: Sequence[Job], todo: list[tuple[int, str, Question]]) -> list[Unit]:
    """What each slot answers in one go: a question, or for a model with a batch size, up
    to that many questions of one job (in the order they were queued)."""
    units: list[Unit] = []
    open_batch: dict[int, Unit] = {}
    for i, level, q in todo:
        size = jobs[i].model.batch_size()
        if size <= 1:
            units.append(Unit(i, [(level, q)]))
            continue
        batch = open_batch.get(i)
        if batch is None or len(batch.items) >= size:
            batch = open_batch[i] = Unit(i, [])
            units.append(batch)
        batch.items.append((level, q))
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


async def run_async(model: Recommender, bench: Benchmark, method: str, run_dir: Path | str,
                    options: RunOptions | None = None, *, progress: ProgressFn | None = None) -> RunSummary:
    """One model, one method, one run directory."""
    summaries = await run_jobs_async([Job(model, method, Path(run_dir))], bench, options, progress=progress)
    return summaries[0]


def run(model: Recommender, bench: Benchmark, method: str, run_dir: Path | str, options: RunOptions | None = None,
        *, progress: ProgressFn | None = None) -> RunSummary:
    """Synchronous wrapper; Ctrl-C leaves a resumable run directory behind."""
    return asyncio.run(run_async(model, bench, method, run_dir, options, progress=progress))


def run_jobs(jobs: Sequence[Job], bench: Benchmark, options: RunOptions | None = None, *,
             progress: ProgressFn | None = None) -> list[RunSummary]:
    """Synchronous wrapper of `run_jobs_async`."""
    return asyncio.run(run_jobs_async(jobs, bench, options, progress=progress))
