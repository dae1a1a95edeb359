"""The one contract every recommender implements, and an adapter for score-based ones.

A recommender answers one question with one method ("point", "pair", "list") and
returns a `Prediction`. LLM recommenders make calls per method; classic baselines
just score users, and `ScoreRecommender` turns scores into each method's answer so
that pairwise baselines go through the same heap sort as pairwise LLMs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from ..bench import Benchmark
from ..run.ranking import heap_sort_async, order_from_scores
from ..types import Prediction, Question


class Recommender(ABC):
    """Base class: `name` identifies the model in run logs and leaderboards."""

    name: str = "model"
    #: methods this recommender can answer
    methods: tuple[str, ...] = ("point", "pair", "list")

    def prepare(self, bench: Benchmark, split: str) -> None:  # noqa: B027
        """Called once before a run (load context, fit global statistics...)."""

    def config(self) -> dict[str, Any]:
        """Options that affect outputs; stored in the run manifest."""
        return {}

    @abstractmethod
    async def predict(self, question: Question, method: str) -> Prediction:
        """Answer one question. Must not raise for bad model output: record a failure."""

    async def aclose(self) -> None:  # noqa: B027
        """Release connections."""


class ScoreRecommender(Recommender):
    """A recommender that scores users; each method's answer derives from the scores.

    Subclasses implement `score_users` (higher = the user likes the item more relative to
    their habit) and may implement `predict_ratings` for a real 1-5 rating prediction
    (used by pointwise runs and MAE/RMSE); by default the pointwise rating is the user's
    average plus the score.
    """

    def __init__(self) -> None:
        self.bench: Benchmark | None = None

    def prepare(self, bench: Benchmark, split: str) -> None:
        self.bench = bench

    @abstractmethod
    def score_users(self, question: Question) -> list[float]:
        ...

    def predict_ratings(self, question: Question) -> list[float]:
        scores = self.score_users(question)
        return [m.avg_rating + s for m, s in zip(question.users, scores)]

    async def predict(self, question: Question, method: str) -> Prediction:
        if method == "point":
            ratings = [float(r) for r in self.predict_ratings(question)]
            scores = [r - m.avg_rating for r, m in zip(ratings, question.users)]
            return Prediction(
                question_id=question.id,
                order=order_from_scores(scores),
                scores=scores,
                ratings=list(ratings),
            )
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
