"""Retry timing, Retry-After parsing, token buckets and the concurrency gate."""

from __future__ import annotations

import asyncio
import random
import time
from email.utils import formatdate

import pytest

from perrecbench.models.llm.limits import Limiter, RetryPolicy, TokenBucket, parse_retry_after


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
        ({"Retry-After": "-3"}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({}, None),
        ("12", 12.0),
        (None, None),
    ],
)
def test_parse_retry_after(headers, expected):
    assert parse_retry_after(headers) == expected


def test_parse_retry_after_http_date():
    now = 1_700_000_000.0
    assert parse_retry_after({"Retry-After": formatdate(now + 30, usegmt=True)}, now=now) == pytest.approx(30)
    assert parse_retry_after({"Retry-After": formatdate(now - 30, usegmt=True)}, now=now) == 0.0


def test_backoff_grows_with_jitter_and_cap():
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    rng = random.Random(0)
    for attempt, full in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        delays = [policy.delay(attempt, None, rng) for _ in range(200)]
        assert min(delays) >= full * 0.5 and max(delays) <= full
        assert max(delays) - min(delays) > full * 0.2  # jitter spreads the workers


def test_retry_after_wins_and_is_capped():
    policy = RetryPolicy(base_delay=0.01, max_retry_after=30.0)
    rng = random.Random(1)
    delays = [policy.delay(1, 5.0, rng) for _ in range(100)]
    assert min(delays) >= 5.0 and max(delays) <= 5.5
    assert policy.delay(1, 3600.0, rng) <= 33.0


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_token_bucket_refills_continuously():
    clock = FakeClock()
    bucket = TokenBucket(60, clock)  # one per second, starts full
    assert bucket.wait_time(60) == 0
    bucket.level -= 60
    assert bucket.wait_time(1) == pytest.approx(1.0)
    clock.t += 0.25
    assert bucket.wait_time(1) == pytest.approx(0.75)
    assert bucket.wait_time(1000) == pytest.approx(59.75)  # capped at the bucket size
    bucket.adjust(+100)
    assert bucket.level == 60


def test_token_bucket_paces_requests():
    async def main() -> float:
        bucket = TokenBucket(1200)  # 20 per second
        bucket.level = 0
        t0 = time.monotonic()
        for _ in range(4):
            await bucket.acquire(1)
        return time.monotonic() - t0

    assert 0.15 <= asyncio.run(main()) <= 1.0


def test_limiter_caps_concurrency():
    async def main() -> int:
        limiter = Limiter(max_concurrency=3)
        peak = 0

        async def job() -> None:
            nonlocal peak
            async with limiter.slot():
                peak = max(peak, limiter.inflight)
                await asyncio.sleep(0.01)

        await asyncio.gather(*(job() for _ in range(20)))
        return peak

    assert asyncio.run(main()) == 3


def test_limiter_pause_holds_new_requests():
    async def main() -> float:
        limiter = Limiter(max_concurrency=4)
        limiter.pause(0.2)
        t0 = time.monotonic()
        async with limiter.slot():
            return time.monotonic() - t0

    assert asyncio.run(main()) >= 0.19
