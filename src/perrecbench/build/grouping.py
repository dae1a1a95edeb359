"""Choosing one group of users per query item and level (pure functions, no I/O).

A group is `n` raters of the same item whose review times fall in one window of
`window_ms`, and whose relative ratings are at least `min_gap` apart between
neighbours in the true order (so no ties). We scan windows from the earliest
review on; the greedy longest chain with gaps >= min_gap (optimal for "most points
with minimum spacing") tells whether a window admits a group, and the group itself
is drawn at random among the window's raters with a seeded generator.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

import numpy as np

EPS = 1e-9


@dataclass(frozen=True)
class Candidate:
    """One eligible rater of an item (history long enough)."""

    idx: int  # row index into the candidate arrays
    timestamp: int
    relative: float
    user_id: str


def item_rng(seed: int, item_id: str, level: str) -> random.Random:
    """A generator that depends only on (seed, item, level): builds are order-independent.

    `random.Random` is used because it seeds ~100x faster than a numpy Generator and
    the build makes one per item and level.
    """
    digest = hashlib.sha256(f"{seed}\x1f{item_id}\x1f{level}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "little"))


def gap_chain(relatives: np.ndarray, min_gap: float) -> list[int]:
    """Indices (into `relatives`) of a longest chain with neighbouring gaps >= min_gap."""
    order = np.argsort(relatives, kind="stable")
    chain = [int(order[0])] if len(order) else []
    for i in order[1:]:
        if relatives[i] - relatives[chain[-1]] >= min_gap - EPS:
            chain.append(int(i))
    return chain


def _random_group(rel: np.ndarray, n: int, min_gap: float, rng: random.Random) -> list[int]:
    """A random valid group among candidates known to admit one.

    Drawing members in random order (keeping each one that is >= min_gap from all
    kept so far) avoids the bias of always taking the tightest chain: with whole-star
    ratings a tight chain favours low-average users, and a model ranking "lowest
    average first" would score without knowing any preference. After a few unlucky
    draws, a random sub-chain of the greedy longest chain is used (always valid).
    """
    m = len(rel)
    for _ in range(8):
        kept: list[int] = []
        for i in rng.sample(range(m), m):
            if all(abs(rel[i] - rel[j]) >= min_gap - EPS for j in kept):
                kept.append(i)
                if len(kept) == n:
                    return sorted(kept)
    chain = gap_chain(rel, min_gap)
    return sorted(chain[p] for p in rng.sample(range(len(chain)), n))


def choose_group(
    timestamps: np.ndarray,
    relatives: np.ndarray,
    users: list[str],
    n: int,
    min_gap: float,
    window_ms: int,
    rng: random.Random,
    max_candidates: int = 400,
) -> list[int] | None:
    """Row indices of one valid group, or None. Inputs are one item's candidates sorted by time.

    The earliest window that admits a group is used: it keeps groups close in time
    (like the release's time-bounded groups) and makes the choice deterministic.
    """
    m = len(timestamps)
    if m < n or len(gap_chain(relatives, min_gap)) < n:
        return None  # no window can do better than all raters together
    start = 0
    while start <= m - n:
        end = int(np.searchsorted(timestamps, timestamps[start] + window_ms, side="right"))
        end = min(end, start + max_candidates)
        if end - start >= n:
            window = np.arange(start, end)
            # a user can appear once per item (dedup guarantees it); keep the guard anyway
            seen: set[str] = set()
            keep = [i for i in window if not (users[i] in seen or seen.add(users[i]))]
            rel = relatives[keep]
            if len(gap_chain(rel, min_gap)) >= n:
                return [int(keep[i]) for i in _random_group(rel, n, min_gap, rng)]
        start += 1
    return None
