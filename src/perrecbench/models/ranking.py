"""Turning pairwise judgements or scores into a best-first order (pure functions)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence


def order_from_scores(scores: Sequence[float]) -> list[int]:
    """Best-first indices by descending score; ties keep member order (stable)."""
    return sorted(range(len(scores)), key=lambda i: -scores[i])


async def heap_sort_async(n: int, better: Callable[[int, int], Awaitable[bool]]) -> list[int]:
    """Best-first order of `n` items using only `better(a, b)` ("a preferred over b").

    This is the paper's aggregation: a heap sort driven by pairwise answers, so an
    inconsistent judge still yields a full order. It builds a min-heap on "preferred"
    (the least preferred at the root), pops to the end, and reads the array back as
    best first. The comparison count is O(n log n); for n <= 4 that is at most 5-6.
    """
    arr = list(range(n))

    async def less(a: int, b: int) -> bool:
        # "a sorts before b" in ascending preference: b is preferred over a
        return await better(b, a)

    async def sift_down(start: int, end: int) -> None:
        root = start
        while True:
            child = 2 * root + 1
            if child > end:
                return
            swap = root
            if await less(arr[swap], arr[child]):
                swap = child
            if child + 1 <= end and await less(arr[swap], arr[child + 1]):
                swap = child + 1
            if swap == root:
                return
            arr[root], arr[swap] = arr[swap], arr[root]
            root = swap

    for start in range((n - 2) // 2, -1, -1):
        await sift_down(start, n - 1)
    for end in range(n - 1, 0, -1):
        arr[0], arr[end] = arr[end], arr[0]
        await sift_down(0, end - 1)
    # arr is ascending in preference: least preferred first
    return arr[::-1]


def order_from_pair_wins(n: int, wins: dict[tuple[int, int], float]) -> list[int]:
    """Best-first order from an all-pairs tournament (Copeland score; ties split 0.5).

    `wins[(a, b)]` is 1.0 if a beat b, 0.5 for a tie/inconsistent pair, 0.0 if b won.
    Equal Copeland scores keep member order.
    """
    score = [0.0] * n
    for (a, b), w in wins.items():
        score[a] += w
        score[b] += 1.0 - w
    return order_from_scores(score)
