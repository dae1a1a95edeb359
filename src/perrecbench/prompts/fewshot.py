"""Few-shot demonstrations with their true answers.

* pointwise: from the *same user's own* earlier history. A demo's query is one of the
  user's earlier items (chosen among those with at least `min_history` reviews before
  it, default k), its history the reviews before that one, its answer the true rating;
* pairwise / listwise: from held-out questions (never test items), answer = the true
  order of the members (best first, 1-based), or for a pair of two sampled members the
  one with the higher relative rating.

Selection uses `random.Random(seed)`, so a demo set is reproducible. The answer text
is the same for every prompt set: `{"predicted_rating": 4.0}`,
`{"predicted_ranking": [2, 1, 3]}`, `[User A]`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..bench import Context
from ..errors import ConfigError
from ..types import Question
from .components import Components
from .retrieval import block_for, components_for, lookup_profile, query_item


@dataclass(frozen=True)
class Demo:
    components: Components
    answer: str


def point_answer(rating: float) -> str:
    return f'{{"predicted_rating": {rating:.1f}}}'


def list_answer(order_1based: Sequence[int]) -> str:
    return json.dumps({"predicted_ranking": [int(i) for i in order_1based]})


def pair_answer(a_wins: bool) -> str:
    return "[User A]" if a_wins else "[User B]"


def point_demos(
    question: Question,
    member_index: int,
    context: Context,
    n: int,
    k: int = 4,
    seed: int = 0,
    profiles: Mapping[Any, str] | None = None,
    rel_rating: bool = False,
    min_history: int | None = None,
) -> list[Demo]:
    """Up to `n` demos from the member's reviews before the question (fewer if the history
    is short); a demo item needs `min_history` (default k) reviews before it. The user
    block keeps the member's profile and rating statistics. Unlike the release, the demo's
    retrieval query is the item's query block, not its history entry (which carries the
    true rating and so biases retrieval towards equally rated items)."""
    if n <= 0:
        return []
    min_history = k if min_history is None else min_history
    m = question.users[member_index]
    history = context.history(m.user_id, before=m.timestamp)
    candidates = list(range(min_history, len(history)))
    rng = random.Random(f"{seed}:{question.id}:{member_index}")
    chosen = rng.sample(candidates, min(n, len(candidates)))
    profile = lookup_profile(profiles, m.user_id, m.timestamp)
    demos = []
    for i in chosen:
        target = history[i]
        query = query_item(context.item(target.item_id))
        block = block_for(context, m.user_id, target.timestamp, query, k, m.avg_rating,
                          m.most_common_rating, profile, rel_rating)
        truth = target.rating - m.avg_rating if rel_rating else target.rating
        demos.append(Demo(Components((block,), query), point_answer(truth)))
    return demos


def group_demos(
    heldout_questions: Sequence[Question],
    context: Context,
    method: str,
    n: int,
    k: int = 4,
    seed: int = 0,
    profiles: Mapping[Any, str] | None = None,
    rel_rating: bool = False,
) -> list[Demo]:
    """`n` listwise or pairwise demos from held-out questions (seeded choice)."""
    if method not in ("list", "pair"):
        raise ConfigError(f"group demos are for list or pair, not {method!r}")
    if n <= 0:
        return []
    if len(heldout_questions) < n:
        raise ConfigError(f"{n} demos asked but only {len(heldout_questions)} held-out questions")
    rng = random.Random(seed)
    demos = []
    for q in rng.sample(list(heldout_questions), n):
        if method == "list":
            comps = components_for(q, context, range(q.n), k, profiles, rel_rating)
            answer = list_answer([i + 1 for i in q.true_order()])
        else:
            a, b = rng.sample(range(q.n), 2)
            comps = components_for(q, context, [a, b], k, profiles, rel_rating)
            answer = pair_answer(q.users[a].relative_rating > q.users[b].relative_rating)
        demos.append(Demo(comps, answer))
    return demos
