"""Choosing one group of users per query item and level (pure functions, no I/O).

A group is `n` raters of the same item whose review times fall in one window of
`window_ms`, and whose relative ratings are at least `min_gap` apart between
neighbours in the true order (so no ties). We scan windows from the earliest
review on; in a window, the longest chain of raters with gaps >= min_gap is found
greedily (optimal for "most points with minimum spacing"), and `n` of them are
drawn with a seeded generator, so any sub-chain keeps the gaps.
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
            chain = gap_chain(rel, min_gap)
            if len(chain) >= n:
                pick = sorted(rng.sample(range(len(chain)), n))
                return [int(keep[chain[p]]) for p in pick]
        start += 1
    return None
