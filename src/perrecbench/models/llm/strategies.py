"""The three methods (SPEC 4) on top of `Asker`: calls -> parsed answers -> a Prediction.

* point: one question per member -> rating; scores = rating - member average (with
  relative-rating prompts the answer *is* the score); order by score.
* pair, "heap" (the release's aggregation): heap sort where a comparison asks the pair
  in both orders, (a, b) and (b, a); a beats b only if both answers agree. An
  inconsistent pair, or one whose answer could not be parsed, is "not better" either
  way. Pair outcomes are memoised within the question.
* pair, "allpairs": every pair in both orders; agreement = a win (1), inconsistency or
  an unparsable answer = a tie (0.5); order by Copeland score (`order_from_pair_wins`).
* list: one question -> a permutation.
* rating (the rating task): the pointwise question about a one-member question ->
  its absolute rating (`ratings`), no order.

Prompt sets that ask for a bare number (the older rating families) are read with
`parse_first_rating` instead of `parse_point` (`number_answers`).

A request that fails for good (after transport retries) fails the question with that
category. So does an answer that stays unparsable (after resampling) for a point or
list question. For pairs a single unparsable comparison counts as "not better" (as
released) and is counted in the prediction's `pairs` statistics; a question where no
comparison could be parsed at all fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from itertools import combinations
from typing import Any, Protocol

from ... import failures
from ...failures import Failure
from ...prompts.parsing import Parsed, parse_first_rating, parse_list, parse_pair, parse_point
from ...records import PairStats, Prediction
from ...types import Question
from ..ranking import heap_sort_async, order_from_pair_wins, order_from_scores
from .client import CallFailed
from .sampling import Asker, Vote

#: the range of a relative-rating answer (a 1-5 scale shifted by an average)
REL_RANGE = (-4.0, 4.0)


class Prompts(Protocol):
    """Chat messages for one call about some members of the current question."""

    def messages(self, method: str, members: Sequence[int]) -> list[Any]: ...


def _failed(q: Question, tally: Vote, failure: Failure, detail: str | None, transport: bool = False,
            **fields: Any) -> Prediction:
    """A recorded failure; `transport` adds the request that failed for good to the counts."""
    return Prediction.failed(
        q.id, failure, detail, n_calls=tally.calls + transport,
        n_failed_calls=sum(tally.parse_failures.values()) + transport, **_counts(tally), **fields,
    )


def _counts(tally: Vote) -> dict[str, Any]:
    return {"cached_calls": tally.cached, "parse_failures": dict(tally.parse_failures)}


def _tags(q: Question, method: str, **more: Any) -> dict[str, Any]:
    return {"question_id": q.id, "level": q.level, "method": method, **more}


def _rating_parser(rel_rating: bool, number_answers: bool) -> Callable[[str], Parsed]:
    lo, hi = REL_RANGE if rel_rating else (1.0, 5.0)
    parse = parse_first_rating if number_answers else parse_point
    return lambda t: parse(t, lo, hi)


async def predict_point(q: Question, prompts: Prompts, asker: Asker, rel_rating: bool = False,
                        number_answers: bool = False) -> Prediction:
    parse = _rating_parser(rel_rating, number_answers)
    tally = Vote()

    async def one(i: int) -> Vote:
        return await asker.ask(prompts.messages("point", [i]), parse, _tags(q, "point", member=i))

    results = await asyncio.gather(*(one(i) for i in range(q.n)), return_exceptions=True)
    votes = [r for r in results if isinstance(r, Vote)]
    for v in votes:
        tally.add(v)
    _reraise_bugs(results)
    failed = next((r for r in results if isinstance(r, CallFailed)), None)
    if failed is not None:
        return _failed(q, tally, failed.failure, failed.detail, transport=True)
    values = [v.value for v in votes]
    if any(v is None for v in values):
        bad = next(v for v in votes if not v.ok)
        partial = [None if v is None else float(v) for v in values]
        assert bad.failure is not None
        return _failed(q, tally, bad.failure, bad.detail, partial_answers=partial)
    if rel_rating:
        scores = [float(v) for v in values]
        ratings = [m.avg_rating + s for m, s in zip(q.users, scores, strict=True)]
    else:
        ratings = [float(v) for v in values]
        scores = [r - m.avg_rating for r, m in zip(ratings, q.users, strict=True)]
    return Prediction(
        question_id=q.id, order=order_from_scores(scores), scores=scores, ratings=list(ratings),
        n_calls=tally.calls, n_failed_calls=sum(tally.parse_failures.values()), **_counts(tally),
        sample_answers=[v.values for v in votes] if asker.samples > 1 else None,
    )


async def predict_rating(q: Question, prompts: Prompts, asker: Asker, rel_rating: bool = False,
                         number_answers: bool = False) -> Prediction:
    """The absolute rating of a one-member question, asked with the pointwise prompt."""
    try:
        vote = await asker.ask(prompts.messages("point", [0]), _rating_parser(rel_rating, number_answers),
                               _tags(q, "rating"))
    except CallFailed as exc:
        return _failed(q, Vote(), exc.failure, exc.detail, transport=True)
    if vote.failure is not None:
        return _failed(q, vote, vote.failure, vote.detail)
    value = float(vote.value)
    rating = q.users[0].avg_rating + value if rel_rating else value
    return Prediction(question_id=q.id, ratings=[rating], n_calls=vote.calls,
                      n_failed_calls=sum(vote.parse_failures.values()), **_counts(vote),
                      sample_answers=vote.values if asker.samples > 1 else None)


async def predict_list(q: Question, prompts: Prompts, asker: Asker) -> Prediction:
    try:
        vote = await asker.ask(prompts.messages("list", list(range(q.n))), lambda t: parse_list(t, q.n),
                               _tags(q, "list"))
    except CallFailed as exc:
        return _failed(q, Vote(), exc.failure, exc.detail, transport=True)
    if vote.failure is not None:
        return _failed(q, vote, vote.failure, vote.detail)
    order = [int(i) for i in vote.value]
    return Prediction(question_id=q.id, order=order, n_calls=vote.calls,
                      n_failed_calls=sum(vote.parse_failures.values()), **_counts(vote),
                      sample_answers=vote.values if asker.samples > 1 else None)


class _PairJudge:
    """Asks pairs in both orders, memoised: outcome = winner index, or None (no agreement)."""

    def __init__(self, q: Question, prompts: Prompts, asker: Asker):
        self.q, self.prompts, self.asker = q, prompts, asker
        self.tally = Vote()
        self._memo: dict[tuple[int, int], asyncio.Future] = {}
        self.agreed = 0
        self.inconsistent = 0
        self.unparsed = 0

    def outcome(self, a: int, b: int) -> asyncio.Future:
        key = (min(a, b), max(a, b))
        if key not in self._memo:
            self._memo[key] = asyncio.ensure_future(self._ask(*key))
        return self._memo[key]

    async def _ask(self, a: int, b: int) -> int | None:
        tags = _tags(self.q, "pair", pair=[a, b])
        ab, ba = await asyncio.gather(
            self.asker.ask(self.prompts.messages("pair", [a, b]), parse_pair, {**tags, "order": "ab"}),
            self.asker.ask(self.prompts.messages("pair", [b, a]), parse_pair, {**tags, "order": "ba"}),
        )
        self.tally.add(ab)
        self.tally.add(ba)
        if not (ab.ok and ba.ok):
            self.unparsed += 1
            return None
        if ab.value == "A" and ba.value == "B":
            self.agreed += 1
            return a
        if ab.value == "B" and ba.value == "A":
            self.agreed += 1
            return b
        self.inconsistent += 1
        return None

    def stats(self, strategy: str) -> PairStats:
        decided = self.agreed + self.inconsistent
        return PairStats(
            strategy=strategy, asked=len(self._memo), inconsistent=self.inconsistent, unparsed=self.unparsed,
            inconsistency_rate=round(self.inconsistent / decided, 4) if decided else None,
        )

    async def cancel(self) -> None:
        for fut in self._memo.values():
            fut.cancel()
        await asyncio.gather(*self._memo.values(), return_exceptions=True)


async def predict_pair(q: Question, prompts: Prompts, asker: Asker, strategy: str = "heap") -> Prediction:
    judge = _PairJudge(q, prompts, asker)
    try:
        if strategy == "heap":
            async def better(a: int, b: int) -> bool:
                return await judge.outcome(a, b) == a

            order = await heap_sort_async(q.n, better)
            scores = None
        else:
            pairs = list(combinations(range(q.n), 2))
            winners = await asyncio.gather(*(judge.outcome(a, b) for a, b in pairs))
            wins = {(a, b): 0.5 if w is None else float(w == a) for (a, b), w in zip(pairs, winners, strict=True)}
            order = order_from_pair_wins(q.n, wins)
            scores = [0.0] * q.n
            for (a, b), w in wins.items():
                scores[a] += w
                scores[b] += 1.0 - w
    except CallFailed as exc:
        await judge.cancel()
        return _failed(q, judge.tally, exc.failure, exc.detail, transport=True, pairs=judge.stats(strategy))
    stats = judge.stats(strategy)
    if judge.unparsed == len(judge._memo) and judge.tally.parse_failures:
        name = judge.tally.parse_failures.most_common(1)[0][0]
        return _failed(q, judge.tally, failures.lookup(name), "no pair comparison could be parsed", pairs=stats)
    return Prediction(question_id=q.id, order=order, scores=scores, n_calls=judge.tally.calls,
                      n_failed_calls=sum(judge.tally.parse_failures.values()), **_counts(judge.tally),
                      pairs=stats)


def _reraise_bugs(results: Sequence[Any]) -> None:
    for r in results:
        if isinstance(r, BaseException) and not isinstance(r, CallFailed):
            raise r
