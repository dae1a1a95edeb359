"""The one contract every recommender implements, and an adapter for score-based ones.

A recommender answers one question with one method ("point", "pair", "list", or
"rating": the absolute rating of a one-member question, `perrecbench.tasks`) and
returns a `Prediction`. The runner drives it through this contract only:

    check()                        fail early (missing SDK or key), before any file is made
    config() / variant()           what goes into the run manifest (identity, label)
    prepare(bench, split, calls)   load what it needs; `calls` receives its call records
    predict(question, method)      the answer, or a recorded failure -- never raises for bad output
    flush()                        write what it buffers (before the runner records predictions)
    stats()                        usage so far, for progress and the end-of-run line
    aclose()                       release connections

LLM recommenders make calls per method; classic baselines just score users, and
`ScoreRecommender` turns scores into each method's answer so that pairwise baselines
go through the same heap sort as pairwise LLMs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from .. import METHODS, RATING
from ..bench import Benchmark
from ..records import CallRecord, Prediction
from ..types import Question
from .options import parse_options
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
    """Base class: `name` identifies the model in run logs and leaderboards."""

    name: str = "model"
    #: methods this recommender can answer
    methods: tuple[str, ...] = ("point", "pair", "list")

    def check(self) -> None:  # noqa: B027
        """Raise a PerRecBenchError if the model cannot work here (no request is made)."""

    def config(self) -> dict[str, Any]:
        """Options that affect outputs; stored in the run manifest (part of its identity)."""
        return {}

    def variant(self) -> str:
        """A short label of the settings that differ from the defaults ("" when none)."""
        return ""

    def prepare(self, bench: Benchmark, split: str, calls: CallSink | None = None) -> None:  # noqa: B027
        """Called once before a run (load context, fit statistics...). `calls` receives
        a record per model call, for models that make calls."""

    @abstractmethod
    async def predict(self, question: Question, method: str) -> Prediction:
        """Answer one question. Must not raise for bad model output: record a failure."""

    def flush(self) -> None:  # noqa: B027
        """Write anything buffered (the runner calls this before it records predictions)."""

    def stats(self) -> UsageStats:
        return UsageStats()

    async def aclose(self) -> None:  # noqa: B027
        """Release connections."""


class ScoreRecommender(Recommender):
    """A recommender that scores users; each method's answer derives from the scores.

    Subclasses set `name` and `DEFAULTS` (their options), implement `score_users`
    (higher = the user likes the item more relative to their habit) and may implement
    `predict_ratings` for a real 1-5 rating prediction (used by pointwise runs and the
    rating task); by default the rating is the user's average plus the score.
    """

    DEFAULTS: dict[str, Any] = {}
    methods = (*METHODS, RATING)

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = parse_options(self.name, options, self.DEFAULTS)
        self.bench: Benchmark | None = None

    def config(self) -> dict[str, Any]:
        return dict(self.options)

    @classmethod
    def variant_of(cls, options: dict[str, Any]) -> str:
        """The label of a run with these options: the ones that differ from the defaults."""
        return ", ".join(f"{k}={v}" for k, v in options.items() if k in cls.DEFAULTS and v != cls.DEFAULTS[k])

    def variant(self) -> str:
        return self.variant_of(self.options)

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

    async def predict(self, question: Question, method: str) -> Prediction:
        if method == RATING:
            return Prediction(question_id=question.id, ratings=[float(r) for r in self.predict_ratings(question)])
        if method == "point":
            ratings = [float(r) for r in self.predict_ratings(question)]
            scores = self.point_scores(question, ratings)
            return Prediction(question_id=question.id, order=order_from_scores(scores), scores=scores,
                              ratings=list(ratings))
        scores = self.score_users(question)
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
