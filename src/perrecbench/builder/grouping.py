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
from collections.abc import Sequence

EPS = 1e-9


_MASK = (1 << 64) - 1


class Stream:
    """SplitMix64 random numbers: seeds in nanoseconds and gives the same sequence on
    every platform and Python version (the build makes one stream per item and level,
    where seeding `random.Random` or a numpy Generator would dominate the build)."""

    __slots__ = ("state",)

    def __init__(self, seed: int):
        self.state = seed & _MASK

    def next64(self) -> int:
        self.state = z = (self.state + 0x9E3779B97F4A7C15) & _MASK
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return z ^ (z >> 31)

    def randrange(self, k: int) -> int:
        """Uniform in [0, k) by multiply-shift (bias below k / 2**64)."""
        return (self.next64() * k) >> 64

    def shuffle(self, x: list) -> None:
        for i in range(len(x) - 1, 0, -1):
            j = self.randrange(i + 1)
            x[i], x[j] = x[j], x[i]

    def permutation(self, m: int):
        """Yield a random permutation of range(m) lazily (sparse Fisher-Yates): O(taken).

        `next64` and `randrange` inlined: the group search draws millions of these.
        """
        moved: dict[int, int] = {}
        get = moved.get
        for t in range(m):
            self.state = z = (self.state + 0x9E3779B97F4A7C15) & _MASK
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
            j = t + (((z ^ (z >> 31)) * (m - t)) >> 64)
            vj = get(j, j)
            moved[j] = get(t, t)
            yield vj


def item_rng(seed: int, item_id: str, level: str) -> Stream:
    """A stream that depends only on (seed, item, level): builds are order-independent."""
    digest = hashlib.blake2b(f"{seed}\x1f{item_id}\x1f{level}".encode(), digest_size=8).digest()
    return Stream(int.from_bytes(digest, "little"))


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


def _random_group(rel: Sequence[float], n: int, min_gap: float, rng: Stream) -> list[int]:
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
        for i in rng.permutation(m):
            ri = rel[i]
            for j in kept:
                if abs(ri - rel[j]) < step:
                    break
            else:
                kept.append(i)
                if len(kept) == n:
                    return sorted(kept)
    chain = gap_chain(rel, min_gap)
    perm = rng.permutation(len(chain))
    return sorted(chain[next(perm)] for _ in range(n))


def choose_group(
    timestamps: Sequence[int],
    relatives: Sequence[float],
    n: int,
    min_gap: float,
    window_ms: int,
    rng: Stream,
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
