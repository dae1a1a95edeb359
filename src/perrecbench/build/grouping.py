"""Choosing one group of users per query item and level (pure functions, no I/O).

A group is `n` raters of the same item whose review times fall in one window of
`window_ms`, and whose relative ratings are at least `min_gap` apart between
neighbours in the true order (so no ties). We scan windows from the earliest
review on; the greedy longest chain with gaps >= min_gap (optimal for "most points
with minimum spacing") tells whether a window admits a group, and the group itself
is drawn at random among the window's raters with a seeded generator.

Inputs are plain Python lists: items have tens of raters, where numpy's per-call
overhead costs more than the work (this loop runs once per item and level).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

EPS = 1e-9


def item_rng(seed: int, item_id: str, level: str) -> random.Random:
    """A generator that depends only on (seed, item, level): builds are order-independent.

    `random.Random` is used because it seeds ~100x faster than a numpy Generator and
    the build makes one per item and level.
    """
    digest = hashlib.sha256(f"{seed}\x1f{item_id}\x1f{level}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "little"))


def gap_chain(relatives: Sequence[float], min_gap: float) -> list[int]:
    """Indices (into `relatives`) of a longest chain with neighbouring gaps >= min_gap."""
    order = sorted(range(len(relatives)), key=relatives.__getitem__)
    chain = order[:1]
    for i in order[1:]:
        if relatives[i] - relatives[chain[-1]] >= min_gap - EPS:
            chain.append(i)
    return chain


def chain_length(sorted_values: Sequence[float], min_gap: float, enough: int) -> int:
    """Length of the greedy chain over already sorted values, stopping at `enough`."""
    if not sorted_values:
        return 0
    count, last, step = 1, sorted_values[0], min_gap - EPS
    for v in sorted_values:
        if v - last >= step:
            count += 1
            last = v
            if count >= enough:
                break
    return count


def _random_group(rel: Sequence[float], n: int, min_gap: float, rng: random.Random) -> list[int]:
    """A random valid group among candidates known to admit one.

    Drawing members in random order (keeping each one that is >= min_gap from all
    kept so far) avoids the bias of always taking the tightest chain: with whole-star
    ratings a tight chain favours low-average users, and a model ranking "lowest
    average first" would score without knowing any preference. After a few unlucky
    draws, a random sub-chain of the greedy longest chain is used (always valid).
    """
    m = len(rel)
    step = min_gap - EPS
    for _ in range(8):
        kept: list[int] = []
        for i in rng.sample(range(m), m):
            ri = rel[i]
            if all(abs(ri - rel[j]) >= step for j in kept):
                kept.append(i)
                if len(kept) == n:
                    return sorted(kept)
    chain = gap_chain(rel, min_gap)
    return sorted(chain[p] for p in rng.sample(range(len(chain)), n))


def choose_group(
    timestamps: Sequence[int],
    relatives: Sequence[float],
    n: int,
    min_gap: float,
    window_ms: int,
    rng: random.Random,
    max_candidates: int = 400,
) -> list[int] | None:
    """Indices of one valid group, or None. Inputs are one item's raters sorted by time
    (each user at most once: the builder keeps one review per user and item).

    The earliest window that admits a group is used: it keeps groups close in time
    (like the release's time-bounded groups) and makes the choice deterministic.
    """
    m = len(timestamps)
    if m < n or chain_length(sorted(relatives), min_gap, n) < n:
        return None  # no window can do better than all raters together
    end = 0
    for start in range(m - n + 1):
        limit = timestamps[start] + window_ms
        while end < m and timestamps[end] <= limit:
            end += 1
        stop = min(end, start + max_candidates)
        if stop - start < n:
            continue
        window = relatives[start:stop]
        if chain_length(sorted(window), min_gap, n) >= n:
            return [start + i for i in _random_group(window, n, min_gap, rng)]
    return None
