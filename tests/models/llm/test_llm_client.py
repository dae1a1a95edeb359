"""LLMClient: retries by category, cache hits, fatal errors, call log, seeds, redaction."""

from __future__ import annotations

import asyncio
import json

import pytest

from perrecbench import failures
from perrecbench.models.llm.cache import ResponseCache
from perrecbench.models.llm.client import CallFailed, LLMClient
from perrecbench.models.llm.config import GenerateConfig
from perrecbench.models.llm.limits import Limiter, RetryPolicy
from perrecbench.models.llm.providers.base import CallError, ModelAPI, ProviderOutput
from perrecbench.records import CallRecord
from perrecbench.redaction import redact
from perrecbench.run.calllog import CallLog

MSGS = [{"role": "user", "content": "hello"}]
CFG = GenerateConfig(temperature=0.1, max_tokens=20)
FAST = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.01)


class ScriptedAPI(ModelAPI):
    """Fails with the scripted errors first, then answers; records what it was sent."""

    backend = "openai"

    def __init__(self, errors=(), text="ok", delay=0.0, local=True):
        super().__init__("scripted")
        self.errors = list(errors)
        self.text = text
        self.delay = delay
        self.sent: list[tuple[list, int | None]] = []
        self._local = local

    @property
    def endpoint(self) -> str:
        return "http://127.0.0.1:1/v1"

    @property
    def local(self) -> bool:
        return self._local

    async def generate(self, messages, config, seed):
        self.sent.append((messages, seed))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.errors:
            raise self.errors.pop(0)
        return ProviderOutput(self.text, 10, 2, "stop", "scripted", {"choices": [{"message": {"content": self.text}}]})


_CLIENTS: list[LLMClient] = []


def _client(api, tmp_path, cache=True, retry=FAST, **kw):
    """A client whose call records go to tmp_path/calls.jsonl (the run's call log)."""
    client = LLMClient(
        api,
        cache=ResponseCache(tmp_path / "c.sqlite") if cache else None,
        retry=retry,
        calls=CallLog(tmp_path / "calls.jsonl"),
        **kw,
    )
    _CLIENTS.append(client)
    return client


def _log(tmp_path):
    """The call records written so far (the clients' buffered lines flushed first)."""
    for c in _CLIENTS:
        c.flush()
    return [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]


def test_retries_retryable_errors_then_succeeds(tmp_path):
    api = ScriptedAPI([CallError(failures.RATE_LIMIT, "slow down", 429), CallError(failures.SERVER_ERROR, "oops", 500)])
    client = _client(api, tmp_path)
    done = asyncio.run(client.generate(MSGS, CFG, tags={"question_id": "q1"}))
    assert done.text == "ok" and done.attempts == 3 and not done.cached
    st = client.stats()
    assert st.requests == 3 and st.retries == 2 and st.errors == {"rate_limit": 1, "server_error": 1}
    log = _log(tmp_path)
    assert [r["status"] for r in log] == ["error", "error", "ok"]
    assert [r["attempt"] for r in log] == [1, 2, 3]
    assert log[0]["category"] == "rate_limit" and log[0]["http_status"] == 429 and "retry_in_s" in log[0]
    assert all(r["question_id"] == "q1" for r in log)
    assert "messages" not in log[-1]  # prompts are not logged by default
    assert log[-1]["usage"] == {"prompt_tokens": 10, "completion_tokens": 2} and log[-1]["latency_s"] >= 0


def test_gives_up_after_max_attempts_with_category(tmp_path):
    api = ScriptedAPI([CallError(failures.SERVER_ERROR, "down", 503)] * 10)
    client = _client(api, tmp_path)
    with pytest.raises(CallFailed) as info:
        asyncio.run(client.generate(MSGS, CFG))
    assert info.value.category == "server_error" and info.value.attempts == 4
    assert len(api.sent) == 4
    assert client.stats().failures == {"server_error": 1}
    # nothing cached: a later run asks again
    assert ResponseCache(tmp_path / "c.sqlite").stats()["entries"] == 0


def test_bad_request_is_not_retried(tmp_path):
    api = ScriptedAPI([CallError(failures.BAD_REQUEST, "max_tokens too large", 400)])
    with pytest.raises(CallFailed, match="bad_request"):
        asyncio.run(_client(api, tmp_path).generate(MSGS, CFG))
    assert len(api.sent) == 1


def test_fatal_error_stops_further_requests(tmp_path):
    api = ScriptedAPI([CallError(failures.AUTH, "Incorrect API key provided: sk-abc123456789", 401)])
    client = _client(api, tmp_path)

    async def main():
        for _ in range(3):
            with pytest.raises(CallFailed) as info:
                await client.generate(MSGS, CFG)
            assert info.value.category == "auth"

    asyncio.run(main())
    assert len(api.sent) == 1
    log = _log(tmp_path)
    assert [r["status"] for r in log] == ["error", "skipped", "skipped"]
    assert "sk-abc123456789" not in (tmp_path / "calls.jsonl").read_text()


def test_cache_hit_sends_nothing(tmp_path):
    api = ScriptedAPI(text="cached answer")
    client = _client(api, tmp_path)

    async def main():
        first = await client.generate(MSGS, CFG, sample_index=0)
        second = await client.generate(MSGS, CFG, sample_index=0)
        third = await client.generate(MSGS, CFG, sample_index=1)
        return first, second, third

    first, second, third = asyncio.run(main())
    assert not first.cached and second.cached and not third.cached
    assert second.text == "cached answer" and second.usage.prompt_tokens == 10
    assert len(api.sent) == 2
    st = client.stats()
    assert st.cache_hits == 1 and st.calls == 3 and st.requests == 2
    assert [r["status"] for r in _log(tmp_path)] == ["ok", "cached", "ok"]


def test_no_cache_means_no_reuse(tmp_path):
    api = ScriptedAPI()
    client = _client(api, tmp_path, cache=False)
    asyncio.run(client.generate(MSGS, CFG))
    asyncio.run(client.generate(MSGS, CFG))
    assert len(api.sent) == 2


def test_sample_index_shifts_the_seed(tmp_path):
    api = ScriptedAPI()
    client = _client(api, tmp_path, cache=False)
    asyncio.run(client.generate(MSGS, CFG.merge(GenerateConfig(seed=42)), sample_index=3))
    asyncio.run(client.generate(MSGS, CFG, sample_index=3))
    assert [s for _, s in api.sent] == [45, None]


def test_total_timeout_is_a_retryable_timeout(tmp_path):
    api = ScriptedAPI(delay=0.3)
    client = _client(api, tmp_path, retry=RetryPolicy(max_attempts=2, base_delay=0.001))
    with pytest.raises(CallFailed) as info:
        asyncio.run(client.generate(MSGS, CFG.merge(GenerateConfig(timeout=0.05))))
    assert info.value.category == "timeout" and len(api.sent) == 2


def test_costs_use_the_price_table(tmp_path):
    api = ScriptedAPI(local=False)
    api.model = "gpt-4o-mini-2024-07-18"
    client = _client(api, tmp_path, cache=False)
    asyncio.run(client.generate(MSGS, CFG))
    assert client.stats().cost_usd == pytest.approx((10 * 0.15 + 2 * 0.60) / 1e6)
    api.model = "some-unknown-model"
    asyncio.run(client.generate(MSGS, CFG))
    assert client.stats().cost_usd is None  # unknown, not silently 0


def test_concurrency_is_bounded(tmp_path):
    api = ScriptedAPI(delay=0.02)
    client = _client(api, tmp_path, cache=False, limiter=Limiter(max_concurrency=2))
    peak = 0

    async def watch():
        nonlocal peak
        while True:
            peak = max(peak, client.limiter.inflight)
            await asyncio.sleep(0.002)

    async def main():
        w = asyncio.ensure_future(watch())
        await asyncio.gather(*(client.generate(MSGS, CFG, sample_index=i) for i in range(8)))
        w.cancel()

    asyncio.run(main())
    assert peak == 2 and len(api.sent) == 8


def test_log_prompts_option(tmp_path):
    api = ScriptedAPI(text="the answer")
    client = _client(api, tmp_path, cache=False, log_prompts=True)
    asyncio.run(client.generate(MSGS, CFG))
    rec = _log(tmp_path)[0]
    assert rec["messages"] == MSGS and rec["response"] == "the answer"


def test_torn_log_line_is_closed_before_appending(tmp_path):
    path = tmp_path / "calls.jsonl"
    path.write_text('{"status": "ok"}\n{"status": "o')
    log = CallLog(path)
    log.write(CallRecord(ts=1.0, status="ok", question_id="next"))
    log.close()
    lines = path.read_text().splitlines()
    assert json.loads(lines[-1]) == {"question_id": "next", "sample": 0, "status": "ok", "ts": 1.0}


def test_redact(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "my-very-secret-value")
    text = redact("key my-very-secret-value and sk-proj-ABCdef123456 and key-1234567")
    assert "my-very-secret-value" not in text and "ABCdef123456" not in text and "1234567" not in text


def test_a_cache_that_cannot_write_keeps_the_answer_and_stops_further_requests(tmp_path):
    """A full disk (SQLite's `database or disk is full`, injected): the paid answer is
    returned and kept in memory, and the next request is never sent."""
    import sqlite3

    from perrecbench.errors import StorageFull

    api = ScriptedAPI()
    client = _client(api, tmp_path)
    cache = client.cache

    class FullDB:
        def __init__(self, db):
            self.db = db

        def execute(self, sql, *args):
            if sql.startswith("BEGIN"):
                raise sqlite3.OperationalError("database or disk is full")
            return self.db.execute(sql, *args)

    real = cache._db
    cache._db = FullDB(real)
    done = asyncio.run(client.generate(MSGS, CFG))
    assert done.text == "ok" and isinstance(cache.failed, StorageFull)
    assert cache.get(client.key(MSGS, CFG)) is not None  # kept in memory
    with pytest.raises(StorageFull, match="disk is full"):
        asyncio.run(client.generate([{"role": "user", "content": "another"}], CFG))
    assert len(api.sent) == 1
    with pytest.raises(StorageFull):
        cache.flush()
    cache._db = real
    cache.failed = None
    cache.flush()  # room again: what was held is written
    assert ResponseCache(cache.path).get(client.key(MSGS, CFG)) is not None


def test_a_damaged_read_is_a_miss_not_an_error(tmp_path, monkeypatch):
    import sqlite3

    cache = ResponseCache(tmp_path / "c.sqlite")
    cache.put("k", "openai", "m", {"text": "a"})

    class Broken:
        def execute(self, *a):
            raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(cache, "_db", Broken())
    assert cache.get("other") is None and cache.components("ns") == {}
