"""What the classic baselines share: leak-free running means.

Leakage rule for every baseline: for a member whose review of the query item is at
time t, only reviews strictly before t are used (never that review itself).
"""

from __future__ import annotations

import bisect
from itertools import accumulate

from ...bench import Context


class RunningMeans:
    """Global and per-item rating sums over the context reviews before any cut-off time.

    Prefix sums over time-sorted reviews answer each query with one bisection.
    """

    def __init__(self, ctx: Context):
        reviews = sorted(ctx.all_reviews(), key=lambda r: (r.timestamp, r.item_id, r.user_id))
        self._all = _prefix(reviews)
        by_item: dict[str, list] = {}
        for r in reviews:
            by_item.setdefault(r.item_id, []).append(r)
        self._item = {k: _prefix(v) for k, v in by_item.items()}

    def global_mean(self, before: int, default: float = 3.0) -> float:
        n, total = _sum_before(self._all, before)
        return total / n if n else default

    def item_sum(self, item_id: str, before: int) -> tuple[int, float]:
        """(count, rating sum) of the item's reviews before `before`."""
        return _sum_before(self._item.get(item_id), before)


def _prefix(reviews: list) -> tuple[list[int], list[float]]:
    return [r.timestamp for r in reviews], [0.0, *accumulate(r.rating for r in reviews)]


def _sum_before(prefix: tuple[list[int], list[float]] | None, before: int) -> tuple[int, float]:
    if prefix is None:
        return 0, 0.0
    ts, cum = prefix
    n = bisect.bisect_left(ts, before)
    return n, cum[n]
