"""Concurrency, request/token rate limits and retry timing for LLM calls.

The client holds one `Limiter`: at most `max_concurrency` requests in flight, optional
requests-per-minute and tokens-per-minute buckets, and a shared pause when a server
says "429, retry after N s" so that the other workers wait too instead of piling on.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from ...constants import DEFAULT_CONCURRENCY

Clock = Callable[[], float]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to repeat a failed request.

    Attempt k (1-based) that fails waits `base_delay * 2**(k-1)` capped at `max_delay`,
    scaled by a random factor in [0.5, 1] ("equal jitter"). A server's Retry-After wins
    over that (capped at `max_retry_after`), plus up to 10 % jitter.
    """

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_retry_after: float = 300.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        if retry_after is not None:
            wait = min(max(retry_after, 0.0), self.max_retry_after)
            return wait * (1.0 + 0.1 * rng.random())
        wait = min(self.max_delay, self.base_delay * 2 ** max(attempt - 1, 0))
        return wait * (0.5 + 0.5 * rng.random())


def parse_retry_after(headers: Mapping[str, str] | str | None, now: float | None = None) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or an HTTP date) or `retry-after-ms`.

    Accepts a header mapping or the bare header value; None when absent or unreadable.
    """
    if headers is None:
        return None
    value: str | None
    ms: str | None
    if isinstance(headers, str):
        value, ms = headers, None
    else:
        lower = {str(k).lower(): v for k, v in headers.items()}
        value, ms = lower.get("retry-after"), lower.get("retry-after-ms")
    if ms is not None:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    if value is None:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(when.timestamp() - now, 0.0)


class TokenBucket:
    """Allows `per_minute` units per minute, refilled continuously; starts full.

    A single demand larger than the bucket is capped at its size, so it waits for a
    full bucket instead of forever. `adjust` returns (or charges) the difference when
    the real cost of a request is known afterwards.
    """

    def __init__(self, per_minute: float, clock: Clock = time.monotonic):
        if per_minute <= 0:
            raise ValueError("rate must be positive")
        self.capacity = float(per_minute)
        self.rate = self.capacity / 60.0
        self.level = self.capacity
        self._clock = clock
        self._stamp = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self.level = min(self.capacity, self.level + (now - self._stamp) * self.rate)
        self._stamp = now

    def wait_time(self, amount: float) -> float:
        self._refill()
        need = min(amount, self.capacity) - self.level
        return max(need, 0.0) / self.rate

    async def acquire(self, amount: float = 1.0) -> None:
        amount = min(float(amount), self.capacity)
        async with self._lock:  # first come, first served
            while (wait := self.wait_time(amount)) > 0:
                await asyncio.sleep(wait)
            self.level -= amount

    def adjust(self, delta: float) -> None:
        """Give back (delta > 0) or charge (delta < 0) units after the fact."""
        self._refill()
        self.level = min(self.capacity, self.level + delta)


class Limiter:
    """Gate for every request: concurrency slots, rate buckets, and shared pauses."""

    def __init__(
        self,
        max_concurrency: int = DEFAULT_CONCURRENCY,
        rpm: float | None = None,
        tpm: float | None = None,
        clock: Clock = time.monotonic,
    ):
        self.max_concurrency = max(1, int(max_concurrency))
        self._sem = asyncio.Semaphore(self.max_concurrency)
        self.requests = TokenBucket(rpm, clock) if rpm else None
        self.tokens = TokenBucket(tpm, clock) if tpm else None
        self._clock = clock
        self._pause_until = 0.0
        self.inflight = 0

    def pause(self, seconds: float) -> None:
        """Hold every new request for `seconds` (a server asked us to back off)."""
        self._pause_until = max(self._pause_until, self._clock() + seconds)

    @asynccontextmanager
    async def slot(self, est_tokens: float = 0.0) -> AsyncIterator[None]:
        async with self._sem:
            while (wait := self._pause_until - self._clock()) > 0:
                await asyncio.sleep(wait)
            if self.requests is not None:
                await self.requests.acquire(1)
            if self.tokens is not None and est_tokens > 0:
                await self.tokens.acquire(est_tokens)
            self.inflight += 1
            try:
                yield
            finally:
                self.inflight -= 1
