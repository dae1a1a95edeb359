"""`baseline/random`: chance level, reproducible per question."""

from __future__ import annotations

import hashlib

import numpy as np
from pydantic import BaseModel, ConfigDict

from ...types import Question
from ..base import ScoreRecommender
from ..options import option


class RandomBaseline(ScoreRecommender):
    """Random scores and random 1-5 ratings from a generator seeded by (seed, question id)."""

    name = "baseline/random"
    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        seed: int = option(0, role="method", ge=0, help="seed of the random orders (with the question id)")

    def _rng(self, question: Question, purpose: str) -> np.random.Generator:
        key = f"{self.options['seed']}\x1f{question.id}\x1f{purpose}".encode()
        return np.random.default_rng(int.from_bytes(hashlib.sha256(key).digest()[:8], "little"))

    def score_users(self, question: Question) -> list[float]:
        return self._rng(question, "score").random(question.n).tolist()

    def predict_ratings(self, question: Question) -> list[float]:
        return self._rng(question, "rating").integers(1, 6, size=question.n).astype(float).tolist()

    def point_scores(self, question: Question, ratings: list[float]) -> list[float]:
        """Pointwise: random 1-5 ratings (for MAE/RMSE) but an independent random ranking.

        Ranking a random rating minus the user's average is *not* chance: it puts
        low-average users first, and relative rating = rating - average correlates with
        that by construction (a constant predictor scores about +0.2 on easy that way).
        Chance level needs scores that ignore the average, so they are drawn separately.
        """
        return self.score_users(question)
