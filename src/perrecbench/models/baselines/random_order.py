"""`baseline/random`: chance level, reproducible per question."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from ...types import Question
from ..base import ScoreRecommender
from .common import parse_options


class RandomBaseline(ScoreRecommender):
    """Random scores and random 1-5 ratings from a generator seeded by (seed, question id)."""

    name = "baseline/random"
    DEFAULTS = {"seed": 0}

    def __init__(self, options: dict[str, Any] | None = None):
        super().__init__()
        self.options = parse_options(self.name, options, self.DEFAULTS)

    def config(self) -> dict[str, Any]:
        return dict(self.options)

    def _rng(self, question: Question, purpose: str) -> np.random.Generator:
        key = f"{self.options['seed']}\x1f{question.id}\x1f{purpose}".encode()
        return np.random.default_rng(int.from_bytes(hashlib.sha256(key).digest()[:8], "little"))

    def score_users(self, question: Question) -> list[float]:
        return self._rng(question, "score").random(question.n).tolist()

    def predict_ratings(self, question: Question) -> list[float]:
        return self._rng(question, "rating").integers(1, 6, size=question.n).astype(float).tolist()
