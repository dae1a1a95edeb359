"""`baseline/content`: does the user like items that *look like* the query item?

TF-IDF vectors over each item's title, category and author; the score is the
similarity-weighted mean of the user's relative ratings (rating minus the user's
mean) on the k history items most similar to the query item.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

from pydantic import BaseModel, ConfigDict

from ...bench import Benchmark
from ...types import Item, Member, Question
from ..base import CallSink, ScoreRecommender
from ..options import option

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOP = frozenset("a an and by for from in of on or the to with".split())


def item_tokens(item: Item) -> list[str]:
    """Words of the title and category, plus whole-field tokens for category and author."""
    text = f"{item.title or ''} {item.category or ''}".lower()
    tokens = [w for w in _WORD.findall(text) if w not in _STOP and not w.isdigit()]
    if item.category:
        tokens.append("category=" + item.category.strip().lower())
    if item.author:
        tokens.append("author=" + item.author.strip().lower())
    return tokens


class TfIdf:
    """Unit-length TF-IDF vectors of items, idf from every item in the context."""

    def __init__(self, items: dict[str, Item]):
        self._tokens = {iid: item_tokens(it) for iid, it in items.items()}
        df: Counter[str] = Counter()
        for toks in self._tokens.values():
            df.update(set(toks))
        n = len(self._tokens)
        self._idf = {t: math.log((n + 1) / (c + 1)) + 1.0 for t, c in df.items()}
        self._vec: dict[str, dict[str, float]] = {}

    def vector(self, item_id: str) -> dict[str, float]:
        vec = self._vec.get(item_id)
        if vec is None:
            counts = Counter(self._tokens.get(item_id, ()))
            raw = {t: c * self._idf.get(t, 1.0) for t, c in counts.items()}
            norm = math.sqrt(sum(v * v for v in raw.values())) or 1.0
            vec = self._vec[item_id] = {t: v / norm for t, v in raw.items()}
        return vec

    def cosine(self, a: str, b: str) -> float:
        va, vb = self.vector(a), self.vector(b)
        if len(va) > len(vb):
            va, vb = vb, va
        return sum(w * vb.get(t, 0.0) for t, w in va.items())


class ContentBaseline(ScoreRecommender):
    """Similarity-weighted relative ratings of the user's most similar earlier items."""

    name = "baseline/content"
    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        k: int = option(20, role="method", ge=0, help="most similar history items scored")

    def __init__(self, options: dict[str, Any] | None = None):
        super().__init__(options)
        self.tfidf: TfIdf | None = None

    def prepare(self, bench: Benchmark, split: str, calls: CallSink | None = None) -> None:
        super().prepare(bench, split)
        self.tfidf = TfIdf(bench.context.items)

    def score_member(self, item_id: str, m: Member) -> float:
        hist = self.loaded().context.history(m.user_id, m.timestamp)
        if not hist or self.tfidf is None:
            return 0.0
        tfidf = self.tfidf
        mean = sum(r.rating for r in hist) / len(hist)
        sims = [(tfidf.cosine(item_id, r.item_id), r.rating - mean) for r in hist]
        top = sorted((s for s in sims if s[0] > 0), key=lambda s: -s[0])[: self.options["k"]]
        weight = sum(s for s, _ in top)
        return sum(s * rel for s, rel in top) / weight if weight > 0 else 0.0

    def score_users(self, question: Question) -> list[float]:
        return [self.score_member(question.item_id, m) for m in question.users]
