"""The wrapper every LLM call goes through: cache, limits, retries, call records, stats.

Providers only translate one request; `LLMClient.generate` decides whether to send it
(cache hit or not), when (concurrency and rate limits, back-off), how often (retries on
429 / 5xx / timeouts / connection errors: `failures.Failure.retry`), and describes every
attempt as a `records.CallRecord` for the run's call log (the `calls` sink). A request
that still fails after the last attempt raises `CallFailed`, which the strategies turn
into a recorded failure -- the run goes on.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ... import failures
from ...failures import Failure
from ...records import CallRecord, CallUsage
from ...redaction import redact
from ..base import CallSink, UsageStats
from .cache import ResponseCache, cache_key
from .config import GenerateConfig
from .limits import Limiter, RetryPolicy
from .pricing import PriceTable
from .providers.base import CallError, ModelAPI, ProviderOutput


@dataclass
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass
class Completion:
    text: str
    usage: Usage
    latency_s: float
    cached: bool
    model: str
    finish_reason: str | None = None
    sample_index: int = 0
    attempts: int = 0  # requests sent for this answer (0 when cached)


class CallFailed(Exception):
    """A request failed for good (after retries, or at once for a fatal error)."""

    def __init__(self, failure: Failure, detail: str, attempts: int = 0):
        detail = redact(detail)
        super().__init__(f"{failure.name}: {detail}")
        self.failure = failure
        self.detail = detail
        self.attempts = attempts

    @property
    def category(self) -> str:
        return self.failure.name


def chat_messages(messages: Sequence[Any]) -> list[dict[str, str]]:
    out = []
    for m in messages:
        if isinstance(m, dict):
            out.append({"role": str(m["role"]), "content": str(m["content"])})
        else:
            out.append({"role": str(m.role), "content": str(m.content)})
    return out


@dataclass
class _Stats:
    calls: int = 0
    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cost_known: bool = True
    failures: Counter = field(default_factory=Counter)  # final, by category
    errors: Counter = field(default_factory=Counter)  # every failed attempt, by category


class LLMClient:
    """Sends chat requests for one model through one provider."""

    def __init__(
        self,
        api: ModelAPI,
        cache: ResponseCache | None = None,
        limiter: Limiter | None = None,
        retry: RetryPolicy | None = None,
        calls: CallSink | None = None,
        log_prompts: bool = False,
        prices: PriceTable | None = None,
        rng: random.Random | None = None,
    ):
        self.api = api
        self.cache = cache
        self.limiter = limiter or Limiter()
        self.retry = retry or RetryPolicy()
        self.calls = calls
        self.log_prompts = log_prompts
        self.prices = prices or PriceTable()
        self._rng = rng or random.Random()
        self._stats = _Stats()
        self._fatal: CallError | None = None

    @property
    def name(self) -> str:
        return f"{self.api.backend}/{self.api.model}"

    def key(self, messages: Sequence[Any], config: GenerateConfig, sample_index: int = 0) -> str:
        return cache_key(
            self.api.backend, self.api.endpoint, self.api.model, chat_messages(messages),
            config.output_options(), sample_index,
        )

    async def generate(
        self,
        messages: Sequence[Any],
        config: GenerateConfig,
        sample_index: int = 0,
        tags: dict[str, Any] | None = None,
    ) -> Completion:
        """One answer for `messages`. Sample i uses seed `seed + i` when a seed is set."""
        msgs = chat_messages(messages)
        tags = dict(tags or {})
        key = self.key(msgs, config, sample_index)
        self._stats.calls += 1
        if self.cache is not None:
            t0 = time.monotonic()
            hit = self.cache.get(key)
            if hit is not None:
                done = self._completion(hit, time.monotonic() - t0, True, sample_index, 0)
                self._stats.cache_hits += 1
                self._log(tags, sample_index, 0, "cached", key, done=done, messages=msgs)
                return done
        seed = None if config.seed is None else config.seed + sample_index
        est = sum(len(m["content"]) for m in msgs) / 4 + (config.max_tokens or 0)
        attempt = 0
        while True:
            attempt += 1
            if self.cache is not None and self.cache.failed is not None:
                raise self.cache.failed  # the disk is full: nothing more is paid for that cannot be kept
            if self._fatal is not None:
                err = self._fatal
                self._stats.failures[err.category] += 1
                self._log(tags, sample_index, attempt, "skipped", key, error=err)
                raise CallFailed(err.failure, failures.NOT_SENT + err.detail, attempt - 1)
            t0 = time.monotonic()
            try:
                async with self.limiter.slot(est):
                    if self.cache is not None and self.cache.failed is not None:
                        raise self.cache.failed  # it filled while this request waited for a slot
                    t0 = time.monotonic()
                    self._stats.requests += 1
                    out = await self._send(msgs, config, seed)
            except CallError as err:
                latency = time.monotonic() - t0
                self._stats.errors[err.category] += 1
                last = not err.retryable or attempt >= self.retry.max_attempts
                delay = None if last else self.retry.delay(attempt, err.retry_after, self._rng)
                self._log(tags, sample_index, attempt, "error", key, error=err, latency=latency, retry_in=delay)
                if err.failure.fatal:
                    self._fatal = err
                if last or delay is None:
                    self._stats.failures[err.category] += 1
                    raise CallFailed(err.failure, err.detail, attempt) from None
                if err.failure is failures.RATE_LIMIT and err.retry_after is not None:
                    self.limiter.pause(delay)
                self._stats.retries += 1
                await asyncio.sleep(delay)
                continue
            latency = time.monotonic() - t0
            stored = {
                "text": out.text,
                "prompt_tokens": out.prompt_tokens,
                "completion_tokens": out.completion_tokens,
                "finish_reason": out.finish_reason,
                "model": out.model,
                "raw": out.raw,
            }
            if self.limiter.tokens is not None and out.prompt_tokens is not None:
                self.limiter.tokens.adjust(est - out.prompt_tokens - (out.completion_tokens or 0))
            if self.cache is not None:
                # committed at once, not with the next batch: a kill -9 must not lose an
                # answer that was paid for (the re-run would ask for it again); on a full
                # disk it stays in memory and the next request is not sent
                self.cache.put(key, self.api.backend, self.api.model, stored)
            done = self._completion(stored, latency, False, sample_index, attempt)
            cost = self._account(done)
            self._log(tags, sample_index, attempt, "ok", key, done=done, latency=latency, cost=cost, messages=msgs)
            return done

    async def _send(self, msgs: list[dict[str, str]], config: GenerateConfig, seed: int | None) -> ProviderOutput:
        call = self.api.generate(msgs, config, seed)
        if config.timeout is None:
            return await call
        try:
            return await asyncio.wait_for(call, timeout=config.timeout)
        except asyncio.TimeoutError:
            raise CallError(failures.TIMEOUT, f"no complete answer within {config.timeout:g} s") from None

    def _completion(self, stored: dict[str, Any], latency: float, cached: bool, sample: int, attempts: int) -> Completion:
        return Completion(
            text=str(stored.get("text") or ""),
            usage=Usage(stored.get("prompt_tokens"), stored.get("completion_tokens")),
            latency_s=latency,
            cached=cached,
            model=str(stored.get("model") or self.api.model),
            finish_reason=stored.get("finish_reason"),
            sample_index=sample,
            attempts=attempts,
        )

    def _account(self, done: Completion) -> float | None:
        p, c = done.usage.prompt_tokens or 0, done.usage.completion_tokens or 0
        self._stats.prompt_tokens += p
        self._stats.completion_tokens += c
        cost = self.prices.cost(self.api.model, p, c, local=self.api.local)
        if cost is None:
            self._stats.cost_known = False
        else:
            self._stats.cost_usd += cost
        return cost

    def note(self, tags: dict[str, Any], sample_index: int, failure: Failure, detail: str = "") -> None:
        """Record that an answer could not be parsed, beside its call lines."""
        if self.calls is not None:
            self.calls.write(CallRecord(ts=round(time.time(), 3), **tags, sample=sample_index,
                                        status="parse_failure", category=failure.name, detail=detail[:300]))

    def _log(
        self,
        tags: dict[str, Any],
        sample: int,
        attempt: int,
        status: str,
        key: str,
        done: Completion | None = None,
        error: CallError | None = None,
        latency: float | None = None,
        cost: float | None = None,
        retry_in: float | None = None,
        messages: list[dict[str, str]] | None = None,
    ) -> None:
        if self.calls is None:
            return
        rec: dict[str, Any] = {"ts": round(time.time(), 3), **tags, "sample": sample, "attempt": attempt,
                               "status": status, "key": key, "model": self.name}
        if latency is not None:
            rec["latency_s"] = round(latency, 4)
        if done is not None:
            rec["usage"] = CallUsage(prompt_tokens=done.usage.prompt_tokens,
                                     completion_tokens=done.usage.completion_tokens)
            rec["finish_reason"] = done.finish_reason
            if cost is not None:
                rec["cost_usd"] = round(cost, 8)
        if error is not None:
            rec.update(category=error.category, http_status=error.status, detail=error.detail[:300])
        if retry_in is not None:
            rec["retry_in_s"] = round(retry_in, 3)
        if self.log_prompts and messages is not None:
            rec["messages"] = messages
            if done is not None:
                rec["response"] = done.text
        self.calls.write(CallRecord(**rec))

    def stats(self) -> UsageStats:
        s = self._stats
        return UsageStats(
            calls=s.calls, requests=s.requests, cache_hits=s.cache_hits, retries=s.retries,
            prompt_tokens=s.prompt_tokens, completion_tokens=s.completion_tokens,
            cost_usd=s.cost_usd if s.cost_known else None, failures=dict(s.failures),
            errors=dict(s.errors), inflight=self.limiter.inflight,
        )

    def flush(self) -> None:
        """Write what is held back: memoised Components in the cache file, then call records."""
        if self.cache is not None:
            self.cache.flush()
        if self.calls is not None:
            self.calls.flush()

    async def aclose(self) -> None:
        try:
            self.flush()
        finally:  # a full disk must not leave the connection (and its helper processes) open
            await self.api.aclose()
