"""Which questions a method is asked: the benchmark's levels for the three preference
methods, and for `rating` one-member questions made from them.

The rating task (SPEC 6b) predicts the absolute 1-5 rating of (user, item) pairs. Its
pairs are the members of the benchmark's questions of a split -- every level, so the
users and items are the ones the preference task uses -- each pair once (a user who is
in the easy and the hard group of an item is one pair). A pair becomes a `Question` of
level `rating` with that one member, so it runs through the same runner, cache, call
logs, resume and scoring as every method, and a model sees exactly what it sees for
that member pointwise: the user's reviews before their review of the item.

The sample is a seeded order of all pairs (sorted by a hash of seed, item and user) of
which a run asks the first N (`--pairs`, 400 as in the paper). So N is a prefix, like
`--limit`: a run asked 100 pairs and resumed with 400 keeps its 100 answers, and the
run manifest's `asked` says how many; the seed is part of the run's identity.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from .bench import Benchmark
from .constants import RATING
from .types import Question

#: pairs a rating run asks by default (the paper's 400)
DEFAULT_PAIRS = 400


def pair_id(user_id: str, item_id: str) -> str:
    """The id of the rating question about `user_id`'s rating of `item_id`."""
    return f"rating-{item_id}-{user_id}"


def _sample_key(seed: int, user_id: str, item_id: str) -> bytes:
    return hashlib.sha256(f"{seed}\x1f{item_id}\x1f{user_id}".encode()).digest()


def rating_pool(questions: Iterable[Question], split: str, seed: int = 0) -> list[Question]:
    """Every distinct (user, item) member of `questions` as a one-member question of level
    `rating`, in the seeded sample order (the first N are a uniform sample of N)."""
    pairs: dict[tuple[str, str], Question] = {}
    for q in questions:
        for m in q.users:
            key = (m.user_id, q.item_id)
            if key not in pairs:
                pairs[key] = Question(pair_id(m.user_id, q.item_id), RATING, split, q.item_id, m.timestamp, (m,))
    return sorted(pairs.values(), key=lambda q: _sample_key(seed, q.users[0].user_id, q.item_id))


def rating_questions(bench: Benchmark, split: str = "test", seed: int = 0) -> list[Question]:
    """The rating pool of the benchmark's `split` (all its levels)."""
    qs: list[Question] = []
    for level in bench.available(split):
        qs.extend(bench.questions(split, level))
    return rating_pool(qs, split, seed)


def sample_size(pairs: int | None, limit: int | None) -> int | None:
    """How many rating questions a run asks: `--pairs` (None = all), capped by `--limit`."""
    sizes = [n for n in (pairs, limit) if n is not None]
    return min(sizes) if sizes else None


def questions_for(bench: Benchmark, method: str, split: str = "test", levels: Sequence[str] | None = None,
                  limit: int | None = None, pairs: int | None = DEFAULT_PAIRS,
                  rating_seed: int = 0) -> dict[str, list[Question]]:
    """Per level, the questions a run of `method` is asked: the first `limit` of each
    preference level, or the first `min(pairs, limit)` rating questions (`levels` does
    not apply to the rating task: its pool is every level)."""
    if method == RATING:
        pool = rating_questions(bench, split, rating_seed)
        n = sample_size(pairs, limit)
        return {RATING: pool if n is None else pool[:n]}
    out = {}
    for level in levels or bench.available(split):
        qs = bench.questions(split, level)
        out[level] = qs if limit is None else qs[:limit]
    return out

