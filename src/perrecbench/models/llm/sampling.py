"""One question to the model, answered robustly: parse retries and self-consistency.

`Asker.ask` sends `samples` independent requests (slots). A slot whose answer cannot be
parsed is *resampled* -- asked again for a new sample -- up to `max_resamples` times
(the release retried 5 times): resample r of slot s uses sample index `s + samples * r`.
The index is part of the cache key, so a re-run replays the very same sequence from
the cache, and a seeded server gets seed + index. (Transport retries of one request
are the client's; re-asking a failed question in a later run is the runner's.)

Majority vote on the *parsed* answers: the most frequent value wins; among equally
frequent values the one given by the lowest-numbered slot wins (slot 0 first), so the
outcome does not depend on which request returned first.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ... import failures
from ...failures import Failure
from .client import CallFailed, LLMClient
from .config import GenerateConfig

Parser = Callable[[str], Any]  # text -> Parsed(value, failure, detail)


@dataclass
class Vote:
    """The outcome of one question: the voted value, or why there is none."""

    value: Any = None
    failure: Failure | None = None  # answer category when no slot parsed
    detail: str | None = None
    calls: int = 0
    cached: int = 0
    parse_failures: Counter = field(default_factory=Counter)  # category name -> answers
    values: list[Any] = field(default_factory=list)  # per slot (None = never parsed)

    @property
    def ok(self) -> bool:
        return self.failure is None

    def add(self, other: Vote) -> None:
        """Accumulate another vote's call counts into this tally."""
        self.calls += other.calls
        self.cached += other.cached
        self.parse_failures.update(other.parse_failures)


def _hashable(v: Any) -> Hashable:
    return tuple(v) if isinstance(v, list) else v


def majority(values: Sequence[Any]) -> Any:
    """Most frequent non-None value; ties go to the earliest slot. None if all are None."""
    counts = Counter(_hashable(v) for v in values if v is not None)
    if not counts:
        return None
    best = max(counts.values())
    for v in values:
        if v is not None and counts[_hashable(v)] == best:
            return v
    return None  # unreachable


class Asker:
    """Asks, draws a new sample for an answer that does not parse (up to `max_resamples`:
    resampling, not the client's retries of failed requests) and votes over samples."""

    def __init__(self, client: LLMClient, config: GenerateConfig, samples: int = 1, max_resamples: int = 5):
        self.client = client
        self.config = config
        self.samples = max(1, samples)
        self.max_resamples = max(0, max_resamples)

    async def ask(self, messages: Sequence[Any], parse: Parser, tags: dict[str, Any]) -> Vote:
        """Raises CallFailed when a request fails for good (transport, not parsing)."""
        vote = Vote()
        last: list[tuple[Failure, str | None]] = []

        async def slot(s: int) -> Any:
            for r in range(self.max_resamples + 1):
                index = s + self.samples * r
                done = await self.client.generate(messages, self.config, index, tags)
                vote.calls += 1
                vote.cached += done.cached
                parsed = parse(done.text)
                if parsed.ok:
                    return parsed.value
                vote.parse_failures[parsed.failure.name] += 1
                last.append((parsed.failure, parsed.detail))
                self.client.note(tags, index, parsed.failure, parsed.detail or "")
            return None

        results = await asyncio.gather(*(slot(s) for s in range(self.samples)), return_exceptions=True)
        for res in results:
            if isinstance(res, BaseException) and not isinstance(res, CallFailed):
                raise res
        failed = [r for r in results if isinstance(r, CallFailed)]
        if failed:
            raise failed[0]
        vote.values = list(results)
        vote.value = majority(vote.values)
        if vote.value is None:
            name = vote.parse_failures.most_common(1)[0][0] if vote.parse_failures else None
            vote.failure = failures.lookup(name) if name else failures.NO_ANSWER
            vote.detail = next((d for c, d in reversed(last) if c is vote.failure), None)
        return vote
