"""`baseline/cf`: item-kNN collaborative filtering with adjusted cosine similarity.

Two items are similar when the same people rate both above (or below) their own
mean. A member's score is the similarity-weighted mean of their relative ratings on
their k most similar history items.

Leakage: for a member whose review of the query item is at time t, co-raters count
only with reviews of both items before t, and each review is centred on its author's
mean *before that review* -- so nothing at or after t is ever read.
"""

from __future__ import annotations

import bisect
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from ...bench import Benchmark, Context
from ...types import Member, Question
from ..base import CallSink, ScoreRecommender
from ..options import option


class CentredRatings:
    """Per item, time-sorted raters and their ratings minus their own earlier mean."""

    def __init__(self, ctx: Context):
        self.user_index: dict[str, int] = {}
        rows: dict[str, list[tuple[int, int, float]]] = {}
        for user_id in ctx.users():
            uidx = self.user_index.setdefault(user_id, len(self.user_index))
            hist = ctx.history(user_id, 2**62)
            ts = [r.timestamp for r in hist]
            total = 0.0
            cum = [0.0]
            for r in hist:
                total += r.rating
                cum.append(total)
            for r in hist:
                n = bisect.bisect_left(ts, r.timestamp)  # strictly earlier reviews only
                if n:
                    rows.setdefault(r.item_id, []).append((r.timestamp, uidx, r.rating - cum[n] / n))
        self.ts: dict[str, list[int]] = {}
        self.users: dict[str, np.ndarray] = {}
        self.values: dict[str, np.ndarray] = {}
        for item_id, rs in rows.items():
            rs.sort()
            self.ts[item_id] = [t for t, _, _ in rs]
            self.users[item_id] = np.array([u for _, u, _ in rs], dtype=np.int64)
            self.values[item_id] = np.array([v for _, _, v in rs], dtype=np.float64)

    def before(self, item_id: str, t: int) -> tuple[np.ndarray, np.ndarray]:
        """(user indices, centred ratings) of the item's reviews strictly before t."""
        ts = self.ts.get(item_id)
        if not ts:
            return _EMPTY_I, _EMPTY_F
        n = bisect.bisect_left(ts, t)
        return self.users[item_id][:n], self.values[item_id][:n]


_EMPTY_I = np.zeros(0, dtype=np.int64)
_EMPTY_F = np.zeros(0, dtype=np.float64)


class ItemKnnBaseline(ScoreRecommender):
    """Adjusted-cosine item-kNN; similarities shrunk by n_co / (n_co + shrinkage)."""

    name = "baseline/cf"
    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        k: int = option(20, role="method", ge=0, help="neighbours: most similar history items")
        shrinkage: float = option(10.0, role="method", ge=0, help="similarities shrunk by n_co / (n_co + shrinkage)")
        min_corater: int = option(2, role="method", ge=0, help="fewest users who rated both items")

    def __init__(self, options: dict[str, Any] | None = None):
        super().__init__(options)
        self._ratings: CentredRatings | None = None
        self._qval = np.zeros(0, dtype=np.float64)
        self._qmask = np.zeros(0, dtype=bool)

    def prepare(self, bench: Benchmark, split: str, calls: CallSink | None = None) -> None:
        super().prepare(bench, split)
        self._ratings = CentredRatings(bench.context)
        n_users = len(self._ratings.user_index)
        self._qval = np.zeros(n_users, dtype=np.float64)
        self._qmask = np.zeros(n_users, dtype=bool)

    @property
    def ratings(self) -> CentredRatings:
        if self._ratings is None:
            raise RuntimeError(f"{self.name}: prepare() before predicting")
        return self._ratings

    def similarities(self, item_id: str, neighbours: list[str], before: int) -> np.ndarray:
        """Shrunk adjusted-cosine similarity of `item_id` to each neighbour, before a time."""
        qu, qv = self.ratings.before(item_id, before)
        out = np.zeros(len(neighbours))
        if len(qu) == 0 or not neighbours:
            return out
        parts = [self.ratings.before(j, before) for j in neighbours]
        users = np.concatenate([p[0] for p in parts])
        vals = np.concatenate([p[1] for p in parts])
        slot = np.repeat(np.arange(len(neighbours)), [len(p[0]) for p in parts])
        self._qval[qu], self._qmask[qu] = qv, True
        try:
            hit = self._qmask[users]
            a, b, s = self._qval[users[hit]], vals[hit], slot[hit]
        finally:
            self._qmask[qu] = False
        k = len(neighbours)
        num = np.bincount(s, a * b, k)
        den = np.sqrt(np.bincount(s, a * a, k) * np.bincount(s, b * b, k))
        n_co = np.bincount(s, minlength=k)
        ok = (n_co >= self.options["min_corater"]) & (den > 0)
        out[ok] = num[ok] / den[ok] * n_co[ok] / (n_co[ok] + self.options["shrinkage"])
        return out

    def score_member(self, item_id: str, m: Member) -> float:
        hist = self.loaded().context.history(m.user_id, m.timestamp)
        if not hist:
            return 0.0
        mean = sum(r.rating for r in hist) / len(hist)
        sims = self.similarities(item_id, [r.item_id for r in hist], m.timestamp)
        rel = np.array([r.rating - mean for r in hist])
        order = np.argsort(-sims, kind="stable")[: self.options["k"]]
        order = order[sims[order] > 0]
        weight = sims[order].sum()
        return float(sims[order] @ rel[order] / weight) if weight > 0 else 0.0

    def score_users(self, question: Question) -> list[float]:
        return [self.score_member(question.item_id, m) for m in question.users]
