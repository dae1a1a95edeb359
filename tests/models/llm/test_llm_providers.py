"""Providers against a real loopback server: request shape, errors, keys, replicas."""

from __future__ import annotations

import asyncio

import pytest
from conftest import REPO
from servers.fake_openai import FakeOpenAI, answer_for

from perrecbench import failures
from perrecbench.errors import ConfigError, ModelError
from perrecbench.models.llm.config import GenerateConfig
from perrecbench.models.llm.providers import create_provider
from perrecbench.models.llm.providers.base import CallError, is_local
from perrecbench.models.llm.providers.openai import OpenAIAPI, OpenAIOptions
from perrecbench.models.llm.providers.openai import pool as worker_pool
from perrecbench.models.llm.providers.openai.api import response_format
from perrecbench.models.llm.providers.openai.options import WORKER_CONCURRENCY
from perrecbench.models.llm.providers.openai.sdk import parse_chat_response

CFG = GenerateConfig(temperature=0.1, top_p=1.0, max_tokens=30)
PAIR = [{"role": "system", "content": "judge"},
        {"role": "user", "content": "## User A\nlikes cats\n\n## User B\nlikes dogs\n\n## Product\n"
                                    'Title: Cat book\n\nAnswer with either "[User A]" or "[User B]"'}]


#: every way a request can travel: the SDK over aiohttp or httpx in this process, or in
#: a helper process (`http_workers`)
TRANSPORTS = {"aiohttp": {"http": "aiohttp"}, "httpx": {"http": "httpx"},
              "worker": {"http": "auto", "http_workers": 1}}


@pytest.fixture(params=list(TRANSPORTS))
def transport(request):
    return TRANSPORTS[request.param]


def _api(model: str, urls: list[str], **options) -> OpenAIAPI:
    """The openai provider with its own options (`http`, `http_workers`)."""
    return OpenAIAPI(model, urls, OpenAIOptions(**options))


@pytest.fixture
def server():
    with FakeOpenAI() as srv:
        yield srv


def _gen(api, messages=PAIR, config=CFG, seed=None):
    async def main():
        try:
            return await api.generate(messages, config, seed)
        finally:
            await api.aclose()

    return asyncio.run(main())


def test_openai_against_local_server_needs_no_key(server, transport):
    api = _api("fake-model", [server.url], **transport)
    api.check()
    out = _gen(api, seed=5)
    assert out.text in ("[User A]", "[User B]")
    assert out.prompt_tokens and out.completion_tokens and out.finish_reason == "stop"
    assert out.raw["choices"][0]["message"]["content"] == out.text
    (entry,) = server.stats()["log"]
    assert entry["seed"] == 5 and entry["temperature"] == 0.1 and entry["max_tokens"] == 30
    assert entry["has_auth"]  # the SDK sends a placeholder key ("EMPTY")
    assert api.local and api.endpoint == server.url


def test_openai_uses_the_environment_key(server, monkeypatch, transport):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123")
    server.configure(expect_key="sk-test-123")
    assert _gen(_api("m", [server.url], **transport)).text
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    with pytest.raises(CallError) as info:
        _gen(_api("m", [server.url], **transport))
    assert info.value.category == "auth" and info.value.status == 401


def test_base_url_from_environment(server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    api = OpenAIAPI("m")
    assert api.base_urls == [server.url]
    assert _gen(api).text


def test_hosted_openai_without_key_names_both_fixes():
    with pytest.raises(ModelError, match="OPENAI_API_KEY") as info:
        OpenAIAPI("gpt-4o").check()
    assert "--base-url" in str(info.value)


def test_anthropic_without_key_names_the_variable():
    with pytest.raises(ModelError, match="ANTHROPIC_API_KEY"):
        create_provider("anthropic", "claude-3-5-sonnet").check()


def test_unknown_backend():
    with pytest.raises(ConfigError, match="unknown LLM backend"):
        create_provider("mistral", "x")


@pytest.mark.parametrize(
    "fault, category",
    [
        ({"kind": "status", "status": 429, "retry_after": "3"}, "rate_limit"),
        ({"kind": "status", "status": 500}, "server_error"),
        ({"kind": "status", "status": 400}, "bad_request"),
        ({"kind": "garbage"}, "bad_response"),
        ({"kind": "truncated"}, "connection"),
    ],
)
def test_openai_error_categories(server, fault, category, transport):
    server.configure(faults=[fault])
    with pytest.raises(CallError) as info:
        _gen(_api("m", [server.url], **transport))
    assert info.value.category == category
    if category == "rate_limit":
        assert info.value.retry_after == 3.0 and info.value.status == 429


def test_connection_refused_is_a_connection_error(transport):
    with FakeOpenAI() as srv:
        url = srv.url
    with pytest.raises(CallError) as info:
        _gen(_api("m", [url], **transport))
    assert info.value.category == "connection"


def test_sdk_timeout_is_a_timeout(server, transport):
    server.configure(faults=[{"kind": "slow", "delay": 2.0}])
    with pytest.raises(CallError) as info:
        _gen(_api("m", [server.url], **transport), config=CFG.merge(GenerateConfig(timeout=0.3)))
    assert info.value.category == "timeout"


def test_replicas_share_the_load(transport):
    with FakeOpenAI(latency=0.02) as a, FakeOpenAI(latency=0.02) as b:
        api = _api("m", [b.url, a.url], **transport)
        assert api.endpoint == ",".join(sorted([a.url, b.url]))

        async def main():
            try:
                await asyncio.gather(*(api.generate(PAIR, CFG, i) for i in range(20)))
            finally:
                await api.aclose()

        asyncio.run(main())
        na, nb = a.stats()["requests"], b.stats()["requests"]
    assert na + nb == 20 and na >= 5 and nb >= 5


def test_response_formats():
    schema = {"type": "object"}
    assert response_format(CFG) is None
    assert response_format(GenerateConfig(response_format="json_object", json_schema=schema)) == {"type": "json_object"}
    assert response_format(GenerateConfig(response_format="json_object_schema", json_schema=schema)) == {
        "type": "json_object", "schema": schema}
    assert response_format(GenerateConfig(response_format="json_schema", json_schema=schema)) == {
        "type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}


def test_json_mode_reaches_the_server(server, transport):
    cfg = CFG.merge(GenerateConfig(response_format="json_object_schema", json_schema={"type": "object"}))
    _gen(_api("m", [server.url], **transport), config=cfg)
    assert server.stats()["log"][0]["response_format"] == {"type": "json_object", "schema": {"type": "object"}}


def test_parse_chat_response_tolerates_local_servers():
    out = parse_chat_response('{"choices": [{"message": {"content": "hi"}}]}')  # no usage, no model
    assert out.text == "hi" and out.prompt_tokens is None and out.finish_reason is None
    parts = parse_chat_response('{"choices": [{"message": {"content": [{"type": "text", "text": "a"}, '
                                '{"type": "text", "text": "b"}]}}], "usage": {"prompt_tokens": "7"}}')
    assert parts.text == "ab" and parts.prompt_tokens == 7
    for body in ("<html>", '{"choices": []}', '{"error": "x"}', "[1]"):
        with pytest.raises(CallError) as info:
            parse_chat_response(body)
        assert info.value.category == "bad_response"


def test_anthropic_against_the_fake_messages_endpoint(server):
    api = create_provider("anthropic", "claude-test", [server.url.removesuffix("/v1")])
    out = _gen(api, config=CFG.merge(GenerateConfig(temperature=0.3)))
    assert out.text in ("[User A]", "[User B]") and out.prompt_tokens and out.finish_reason == "end_turn"
    (entry,) = server.stats()["log"]
    assert entry["system_param"] and entry["temperature"] == 0.3


def test_anthropic_request_mapping():
    api = create_provider("anthropic", "claude-test", ["http://127.0.0.1:9"])
    api._named = {"temperature", "top_p", "stop_sequences"}
    kw = api.request(PAIR, CFG.merge(GenerateConfig(stop=("\n\n",))), seed=3)
    assert kw["system"] == "judge" and all(m["role"] != "system" for m in kw["messages"])
    assert kw["temperature"] == 0.1 and "top_p" not in kw and kw["stop_sequences"] == ["\n\n"]
    assert "seed" not in kw and kw["max_tokens"] == 30
    api._named = set()  # an SDK that no longer names sampling options: sent as extra body
    assert api.request(PAIR, CFG, None)["extra_body"] == {"temperature": 0.1}
    with pytest.raises(ConfigError, match="JSON mode"):
        api.request(PAIR, CFG.merge(GenerateConfig(response_format="json_object")), None)


def test_status_categories_and_locality():
    assert [failures.for_http_status(s).name for s in (429, 401, 403, 404, 408, 500, 503, 400, 422)] == [
        "rate_limit", "auth", "auth", "not_found", "timeout", "server_error", "server_error",
        "bad_request", "bad_request"]
    assert is_local("http://localhost:8000/v1") and is_local("http://127.0.0.1:1") and is_local("http://10.0.0.5/v1")
    assert not is_local("https://api.together.xyz/v1") and not is_local(None)


def test_fake_server_answers_consistently():
    swapped = [{"role": "user", "content": PAIR[1]["content"].replace("likes cats", "TMP")
                .replace("likes dogs", "likes cats").replace("TMP", "likes dogs")}]
    a, b = answer_for(PAIR), answer_for(swapped)
    assert {a, b} == {"[User A]", "[User B]"}  # the same user wins in both orders


@pytest.mark.parametrize("backend, extra", [("openai", "openai"), ("anthropic", "anthropic")])
def test_missing_sdk_names_the_extra(monkeypatch, backend, extra):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == backend else real(name, *a))
    with pytest.raises(ModelError, match=rf"perrecbench\[{extra}\]"):
        create_provider(backend, "m", ["http://127.0.0.1:9"]).check()


def test_fake_server_runs_as_its_own_process():
    import json
    import subprocess
    import sys
    import urllib.request

    script = REPO / "tests" / "servers" / "fake_openai.py"
    proc = subprocess.Popen([sys.executable, str(script), "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=10) as resp:
            assert json.load(resp)["data"][0]["id"] == "fake-model"
    finally:
        proc.terminate()
        proc.wait(10)


def test_http_worker_death_fails_its_requests_then_a_new_worker_starts(server):
    """A helper process that dies (OOM killer, kill -9) fails only its requests in flight,
    as retryable connection errors; the next request starts a fresh worker."""
    server.configure(faults=[{"kind": "slow", "delay": 3.0, "times": 1}])
    api = _api("m", [server.url], http_workers=1)

    async def main():
        try:
            slow = asyncio.ensure_future(api.generate(PAIR, CFG, None))
            await asyncio.sleep(1.0)
            (worker,) = api._workers._workers
            worker.proc.kill()
            with pytest.raises(CallError) as info:
                await asyncio.wait_for(slow, 30)  # a bug here must fail the test, not hang CI
            assert info.value.category == "connection" and info.value.retryable
            out = await asyncio.wait_for(api.generate(PAIR, CFG, None), 30)
            assert out.text in ("[User A]", "[User B]")
            assert api._workers._workers[0] is not worker
        finally:
            await api.aclose()

    asyncio.run(main())


def test_http_workers_auto_follows_concurrency_and_backend():
    from perrecbench.models.llm.recommender import create_llm_recommender

    low = create_llm_recommender("openai", "m", {"base_url": "http://127.0.0.1:9/v1", "max_concurrency": 4})
    assert low.api.http_workers == 0
    high = create_llm_recommender("openai", "m", {"base_url": "http://127.0.0.1:9/v1",
                                                  "max_concurrency": WORKER_CONCURRENCY})
    import os

    assert high.api.http_workers == (1 if (os.cpu_count() or 1) >= 2 else 0)
    forced = create_llm_recommender("openai", "m", {"base_url": "http://127.0.0.1:9/v1", "http_workers": 2})
    assert forced.api.http_workers == 2
    with pytest.raises(ConfigError, match="unknown LLM option.*http_workers.*anthropic backend.s own options are: none"):
        create_llm_recommender("anthropic", "m", {"http_workers": 1})
    with pytest.raises(ConfigError, match="http_workers must be 0 or more"):
        create_llm_recommender("openai", "m", {"http_workers": -1})


def test_http_worker_dying_while_connecting_fails_the_request_instead_of_hanging(server, monkeypatch):
    """A worker that dies between its spawn and the first request being registered (seen
    under load) must fail that request at once, not leave it waiting for an answer."""
    connect = worker_pool._Worker.connect

    async def connect_then_die(self):
        await connect(self)
        self.proc.kill()
        self.proc.wait()
        await asyncio.wait_for(asyncio.shield(self.reader_task), 5)  # its answers pipe is at EOF

    api = _api("m", [server.url], http_workers=1)

    async def main():
        try:
            monkeypatch.setattr(worker_pool._Worker, "connect", connect_then_die)
            with pytest.raises(CallError) as info:
                await asyncio.wait_for(api.generate(PAIR, CFG, None), 10)
            assert info.value.category == "connection" and info.value.retryable
            monkeypatch.setattr(worker_pool._Worker, "connect", connect)
            assert (await asyncio.wait_for(api.generate(PAIR, CFG, None), 30)).text in ("[User A]", "[User B]")
        finally:
            await api.aclose()

    asyncio.run(main())
