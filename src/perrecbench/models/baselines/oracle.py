"""`baseline/oracle`: reads the answer; a sanity check that scoring gives tau = 1."""

from __future__ import annotations

from ...types import Question
from ..base import ScoreRecommender


class OracleBaseline(ScoreRecommender):
    """Scores are the true relative ratings and ratings the true ratings."""

    name = "baseline/oracle"

    def score_users(self, question: Question) -> list[float]:
        return [m.relative_rating for m in question.users]

    def predict_ratings(self, question: Question) -> list[float]:
        return [m.rating for m in question.users]
