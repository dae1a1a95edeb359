"""`baseline/bias`: the classic rating predictor mu + b_u + b_i (Koren's baseline estimates).

It models exactly the two factors PerRecBench removes -- the user's rating habit and
the item's quality -- so it can predict ratings well (low MAE/RMSE) while ranking a
group of raters of one item at about chance: the benchmark's premise in one model.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from ...bench import Benchmark
from ...types import Member, Question
from ..base import CallSink, ScoreRecommender
from ..options import option
from .common import RunningMeans


class BiasBaseline(ScoreRecommender):
    """Biases fitted, per member, on reviews before that member's review time.

    The item bias is shrunk (`lambda_item`); the user bias is not by default: every
    member has at least `min_history` earlier reviews, and shrinking b_u would add
    -lambda/(n+lambda) * (the user's offset) to the score -- a ranking by "lowest
    average first", which group selection with a whole-star `min_gap` rewards (a
    constant-rating model scores tau > 0 on easy groups). That is a property of the
    benchmark's selection, not of habit and quality, so the default leaves it out.
    """

    name = "baseline/bias"
    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        lambda_item: float = option(10.0, role="method", ge=0, help="shrinkage of the item biases")
        lambda_user: float = option(0.0, role="method", ge=0, help="shrinkage of the user biases")

    def __init__(self, options: dict[str, Any] | None = None):
        super().__init__(options)
        self.means: RunningMeans | None = None

    def prepare(self, bench: Benchmark, split: str, calls: CallSink | None = None) -> None:
        super().prepare(bench, split)
        self.means = RunningMeans(bench.context)

    def _means(self) -> RunningMeans:
        if self.means is None:
            raise RuntimeError(f"{self.name}: prepare() before predicting")
        return self.means

    def _item_bias(self, item_id: str, mu: float, before: int) -> float:
        n, total = self._means().item_sum(item_id, before)
        den = n + self.options["lambda_item"]
        return (total - n * mu) / den if den > 0 else 0.0  # no earlier rating of the item: no bias

    def predict_one(self, question: Question, m: Member) -> float:
        """mu + b_u + b_i from reviews strictly before the member's review of the item."""
        ctx = self.loaded().context
        before = m.timestamp
        mu = self._means().global_mean(before)
        b_i = self._item_bias(question.item_id, mu, before)
        hist = ctx.history(m.user_id, before)
        resid = sum(r.rating - mu - self._item_bias(r.item_id, mu, before) for r in hist)
        den = len(hist) + self.options["lambda_user"]
        b_u = resid / den if den > 0 else 0.0
        return min(5.0, max(1.0, mu + b_u + b_i))

    def predict_ratings(self, question: Question) -> list[float]:
        return [self.predict_one(question, m) for m in question.users]

    def score_users(self, question: Question) -> list[float]:
        return [r - m.avg_rating for r, m in zip(self.predict_ratings(question), question.users, strict=True)]
