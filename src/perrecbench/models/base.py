"""The one contract every recommender implements, and an adapter for score-based ones.

A recommender answers one question with one method ("point", "pair", "list", or
"rating": the absolute rating of a one-member question, `perrecbench.tasks`) and
returns a `Prediction`. The runner drives it through this contract only:

    cls(options)                   how a class named by `--model` is made (a baseline, a user's
                                   class, a plugin's class): `options` are its `--option key=value`
                                   pairs, already checked against the `DEFAULTS` it declares

    check()                        fail early (missing SDK or key), before any file is made
    config() / variant()           what goes into the run manifest (identity, label)
    prepare(bench, split, calls)   load what it needs; `calls` receives its call records
    predict(question, method)      the answer, or a recorded failure -- never raises for bad output
    predict_batch(questions, method)  up to `batch_size()` answers in one call (optional)
    flush()                        write what it buffers (before the runner records predictions)
    stats()                        usage so far, for progress and the end-of-run line
    aclose()                       release connections

LLM recommenders make calls per method; classic baselines just score users, and
`ScoreRecommender` turns scores into each method's answer so that pairwise baselines
go through the same heap sort as pairwise LLMs.
"""

from __future__ import annotations

import hashlib
import inspect
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

from ..bench import Benchmark
from ..constants import METHODS, RATING
from ..records import CallRecord, Prediction
from ..types import Question
from .options import check_options
from .options import defaults as declared_defaults
from .ranking import heap_sort_async, order_from_scores


class CallSink(Protocol):
    """Where a model's call records go (the run's call logs)."""

    def write(self, record: CallRecord) -> None: ...

    def flush(self) -> None: ...


@dataclass(frozen=True)
class UsageStats:
    """What a model has used so far; models that make no calls report zeros."""

    calls: int = 0  # answers asked for (cached or not)
    requests: int = 0  # requests sent
    cache_hits: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0  # None: some model's price is unknown
    failures: dict[str, int] = field(default_factory=dict)  # requests failed for good, by category
    errors: dict[str, int] = field(default_factory=dict)  # every failed attempt, by category
    inflight: int = 0

    def __add__(self, other: UsageStats) -> UsageStats:
        cost = None if self.cost_usd is None or other.cost_usd is None else self.cost_usd + other.cost_usd
        return UsageStats(
            self.calls + other.calls, self.requests + other.requests, self.cache_hits + other.cache_hits,
            self.retries + other.retries, self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens, cost,
            dict(Counter(self.failures) + Counter(other.failures)),
            dict(Counter(self.errors) + Counter(other.errors)), self.inflight + other.inflight,
        )


class Recommender(ABC):
    """Base class: `name` identifies the model in run logs and leaderboards.

    The constructor contract: `cls(options: dict | None = None)`, where `options` are
    checked against the class's declaration -- its `Options` class, or its plain
    `DEFAULTS` (each key's default, whose type a given value is cast to); an unknown key
    or a bad value is a `ConfigError`. A subclass that
    overrides `__init__` takes the same argument and calls `super().__init__(options)`.
    """

    name: str = "model"
    #: methods this recommender can answer
    methods: tuple[str, ...] = ("point", "pair", "list")
    #: the options the class takes (`--option key=value`), each declared once with its
    #: type, bounds, default and help: a pydantic model of `models.options.option` fields
    #: (`DEFAULTS` then derives from it). A `batch_size` option is the most questions
    #: `predict_batch` is handed at once.
    Options: ClassVar[type[BaseModel] | None] = None
    #: the options' defaults; a class without `Options` may declare just these (each
    #: value's type is its option's type, negative numbers are refused)
    DEFAULTS: ClassVar[dict[str, Any]] = {}
    #: the model sends requests (an API, a server): one object answers every method of a
    #: run (one connection, cache and limits), and the runner keeps more questions open
    #: than it has request slots. A model that computes its answers is made once per method.
    makes_calls: ClassVar[bool] = False
    #: how the model was named (`--model` spec), recorded in the run manifest; None for
    #: models built in
    spec: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("Options") is not None and "DEFAULTS" not in cls.__dict__:
            cls.DEFAULTS = declared_defaults(cls.__dict__["Options"])

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = check_options(self.name, options, self.Options, self.DEFAULTS)

    def check(self) -> None:  # noqa: B027
        """Raise a PerRecBenchError if the model cannot work here (no request is made)."""

    def config(self) -> dict[str, Any]:
        """Options that affect outputs; stored in the run manifest (part of its identity)."""
        return dict(getattr(self, "options", None) or {})

    @classmethod
    def variant_of(cls, options: dict[str, Any]) -> str:
        """The label of a run with these options: the ones that differ from the defaults."""
        return ", ".join(f"{k}={v}" for k, v in options.items() if k in cls.DEFAULTS and v != cls.DEFAULTS[k])

    def variant(self) -> str:
        """A short label of the settings that differ from the defaults ("" when none)."""
        return self.variant_of(getattr(self, "options", None) or {})

    def prepare(self, bench: Benchmark, split: str, calls: CallSink | None = None) -> None:  # noqa: B027
        """Called once before a run (load context, fit statistics...). `calls` receives
        a record per model call, for models that make calls."""

    @abstractmethod
    async def predict(self, question: Question, method: str) -> Prediction:
        """Answer one question. Must not raise for bad model output: record a failure."""

    def batch_size(self) -> int:
        """How many questions the runner hands `predict_batch` at once: the `batch_size`
        option when the class declares one, else 1 (one `predict` call per question)."""
        options = getattr(self, "options", None)
        if "batch_size" in self.DEFAULTS and isinstance(options, dict):
            return max(1, int(options.get("batch_size") or 1))
        return 1

    async def predict_batch(self, questions: Sequence[Question], method: str) -> list[Prediction]:
        """Answer several questions at once (one answer per question, in order): for models
        that score many questions in one pass (a network on a GPU). By default, `predict`
        for each."""
        return [await self.predict(q, method) for q in questions]

    def flush(self) -> None:  # noqa: B027
        """Write anything buffered (the runner calls this before it records predictions)."""

    def stats(self) -> UsageStats:
        return UsageStats()

    async def aclose(self) -> None:  # noqa: B027
        """Release connections."""


def model_spec(model: Recommender) -> str:
    """How a model is named in its run manifest: the `--model` spec it was made from, else
    `module:Class` of its class."""
    cls = type(model)
    if model.spec:
        return model.spec
    return cls.__qualname__ if cls.__module__ in ("__main__", "builtins") else f"{cls.__module__}:{cls.__qualname__}"


def source_hash(cls: type) -> str | None:
    """sha256 of the file that defines `cls` (a user's or a plugin's class: a run made
    with another version of it is another run); None for the package's own classes and
    for classes without a source file."""
    if cls.__module__.split(".")[0] == "perrecbench":
        return None
    try:
        path = inspect.getsourcefile(cls)
        data = open(path, "rb").read() if path else None  # noqa: SIM115
    except (OSError, TypeError):
        data = None
    if data is None:
        try:
            data = inspect.getsource(cls).encode("utf-8")
        except (OSError, TypeError):
            return None
    return hashlib.sha256(data).hexdigest()


class ScoreRecommender(Recommender):
    """A recommender that scores users; each method's answer derives from the scores.

    Subclasses set `name` and `DEFAULTS` (their options), implement `score_users`
    (higher = the user likes the item more relative to their habit) and may implement
    `predict_ratings` for a real 1-5 rating prediction (used by pointwise runs and the
    rating task); by default the rating is the user's average plus the score. A model
    that scores many questions in one pass implements `score_batch` and declares a
    `batch_size` option. `self.bench` is the benchmark handed to `prepare`.
    """

    methods = (*METHODS, RATING)

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.bench: Benchmark | None = None

    def prepare(self, bench: Benchmark, split: str, calls: CallSink | None = None) -> None:
        self.bench = bench

    def loaded(self) -> Benchmark:
        if self.bench is None:
            raise RuntimeError(f"{self.name}: prepare() before predicting")
        return self.bench

    @abstractmethod
    def score_users(self, question: Question) -> list[float]:
        ...

    def predict_ratings(self, question: Question) -> list[float]:
        scores = self.score_users(question)
        return [m.avg_rating + s for m, s in zip(question.users, scores, strict=True)]

    def point_scores(self, question: Question, ratings: list[float]) -> list[float]:
        """The ranking scores of a pointwise answer: predicted rating minus the user's average."""
        return [r - m.avg_rating for r, m in zip(ratings, question.users, strict=True)]

    def score_batch(self, questions: Sequence[Question]) -> list[list[float]]:
        """`score_users` of several questions at once (override to score them in one pass)."""
        return [self.score_users(q) for q in questions]

    async def predict(self, question: Question, method: str) -> Prediction:
        if method in (RATING, "point"):
            return self._rating_answer(question, method, self.predict_ratings(question))
        return await self._score_answer(question, method, self.score_users(question))

    async def predict_batch(self, questions: Sequence[Question], method: str) -> list[Prediction]:
        scores = self.score_batch(questions)
        if len(scores) != len(questions):
            raise ValueError(f"score_batch returned {len(scores)} score lists for {len(questions)} questions")
        own_ratings = type(self).predict_ratings is not ScoreRecommender.predict_ratings
        out = []
        for q, s in zip(questions, scores, strict=True):
            if method in (RATING, "point"):
                ratings = (self.predict_ratings(q) if own_ratings
                           else [m.avg_rating + x for m, x in zip(q.users, s, strict=True)])
                out.append(self._rating_answer(q, method, ratings))
            else:
                out.append(await self._score_answer(q, method, s))
        return out

    def _rating_answer(self, question: Question, method: str, ratings: list[float]) -> Prediction:
        ratings = [float(r) for r in ratings]
        if method == RATING:
            return Prediction(question_id=question.id, ratings=ratings)
        scores = self.point_scores(question, ratings)
        return Prediction(question_id=question.id, order=order_from_scores(scores), scores=scores,
                          ratings=list(ratings))

    async def _score_answer(self, question: Question, method: str, scores: list[float]) -> Prediction:
        if method == "list":
            return Prediction(question_id=question.id, order=order_from_scores(scores), scores=scores)
        if method == "pair":
            calls = 0

            async def better(a: int, b: int) -> bool:
                nonlocal calls
                calls += 1
                return scores[a] > scores[b]

            order = await heap_sort_async(question.n, better)
            return Prediction(question_id=question.id, order=order, n_calls=calls)
        raise ValueError(f"unknown method {method!r}")
