"""`openai/<model>`: the OpenAI API and every OpenAI-compatible server (vLLM, llama.cpp, ...).

Several base URLs spread requests over replicas of one deployment: each request goes
to the replica with the fewest requests in flight (ties rotate). Nothing here assumes
OpenAI-hosted behaviour: usage may be missing, the seed may be ignored, fields may be
extra or absent. Requests go through the SDK's raw `post` (its documented way to call
any endpoint): the SDK still owns auth, URLs, timeouts and HTTP error classes, while
the body is kept exactly as the server sent it (the cache stores it) and a missing or
odd field cannot fail response validation. It also skips the typed request/response
conversion, a fifth of the client's CPU time per request.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from ..config import GenerateConfig
from ..limits import parse_retry_after
from .base import (
    BAD_RESPONSE,
    CONNECTION,
    TIMEOUT,
    CallError,
    ModelAPI,
    ProviderOutput,
    category_for_status,
    is_local,
)

HOSTED = "https://api.openai.com/v1"
KEY_ENV = "OPENAI_API_KEY"
URL_ENV = "OPENAI_BASE_URL"


def split_urls(text: str | None) -> list[str]:
    return [u for u in re.split(r"[,\s]+", text or "") if u]


def response_format(config: GenerateConfig) -> dict[str, Any] | None:
    """The `response_format` request field for the configured JSON mode."""
    kind, schema = config.response_format, config.json_schema
    if kind is None:
        return None
    if kind == "json_object" or schema is None:
        return {"type": "json_object"}
    if kind == "json_object_schema":
        return {"type": "json_object", "schema": schema}
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}


#: SDK clients per replica. Each client's connection pool scans all its connections on
#: every request; several small pools instead of one big one save ~20 % client CPU at
#: 32 requests in flight (measured with benchmarks/run_speed.py).
SHARDS = 4


@dataclass
class _Replica:
    url: str | None
    clients: list[Any]
    inflight: int = 0
    shard_load: list[int] = field(default_factory=list)

    def pick(self) -> int:
        return min(range(len(self.clients)), key=self.shard_load.__getitem__)


class OpenAIAPI(ModelAPI):
    backend = "openai"
    key_env = KEY_ENV
    url_hint = "pass --base-url (or set OPENAI_BASE_URL) to use an OpenAI-compatible server such as vLLM"

    def __init__(self, model: str, base_urls: list[str] | None = None):
        super().__init__(model)
        urls = list(base_urls or []) or split_urls(os.environ.get(URL_ENV))
        self.base_urls = [u.rstrip("/") for u in urls]
        self._replicas: list[_Replica] | None = None
        self._turn = 0
        self._local = bool(self.base_urls) and all(is_local(u) for u in self.base_urls)

    @property
    def endpoint(self) -> str:
        return ",".join(sorted(self.base_urls)) if self.base_urls else HOSTED

    @property
    def local(self) -> bool:
        return self._local

    @property
    def has_base_url(self) -> bool:
        return bool(self.base_urls)

    def _pool(self) -> list[_Replica]:
        if self._replicas is None:
            self.check()
            key = self._api_key()
            self._replicas = [
                _Replica(url, [_sdk_client(url, key) for _ in range(SHARDS)], shard_load=[0] * SHARDS)
                for url in (self.base_urls or [None])
            ]
        return self._replicas

    def _pick(self) -> _Replica:
        reps = self._pool()
        start = self._turn
        self._turn = (self._turn + 1) % len(reps)
        j = min(range(len(reps)), key=lambda j: (reps[(start + j) % len(reps)].inflight, j))
        return reps[(start + j) % len(reps)]

    def request(self, messages: list[dict[str, str]], config: GenerateConfig, seed: int | None) -> dict[str, Any]:
        """The JSON body of a chat completion request."""
        body: dict[str, Any] = {"model": self.model, "messages": messages}
        for name in ("temperature", "top_p", "max_tokens"):
            if getattr(config, name) is not None:
                body[name] = getattr(config, name)
        if seed is not None:
            body["seed"] = seed
        if config.stop:
            body["stop"] = list(config.stop)
        fmt = response_format(config)
        if fmt is not None:
            body["response_format"] = fmt
        return body

    async def generate(
        self, messages: list[dict[str, str]], config: GenerateConfig, seed: int | None
    ) -> ProviderOutput:
        import openai

        rep = self._pick()
        shard = rep.pick()
        rep.inflight += 1
        rep.shard_load[shard] += 1
        options: dict[str, Any] = {} if config.timeout is None else {"timeout": config.timeout}
        try:
            text = await rep.clients[shard].post(
                "/chat/completions", body=self.request(messages, config, seed), cast_to=str, options=options
            )
        except openai.APITimeoutError as exc:
            raise CallError(TIMEOUT, str(exc) or "request timed out") from None
        except openai.APIConnectionError as exc:
            raise CallError(CONNECTION, f"{exc} ({rep.url or HOSTED})") from None
        except openai.APIStatusError as exc:
            status = exc.status_code
            retry_after = parse_retry_after(exc.response.headers) if exc.response is not None else None
            raise CallError(category_for_status(status), _short(exc.message), status, retry_after) from None
        finally:
            rep.inflight -= 1
            rep.shard_load[shard] -= 1
        return parse_chat_response(text)

    async def aclose(self) -> None:
        for rep in self._replicas or []:
            for client in rep.clients:
                await client.close()
        self._replicas = None


def _sdk_client(url: str | None, key: str) -> Any:
    """An SDK client that does not retry (the LLMClient does). Plain-http servers skip
    loading the CA bundle, which costs ~0.1 s per client and is never used there."""
    from openai import AsyncOpenAI, DefaultAsyncHttpxClient

    http = DefaultAsyncHttpxClient(verify=False) if url and url.startswith("http://") else None
    return AsyncOpenAI(base_url=url, api_key=key, max_retries=0, http_client=http)


def parse_chat_response(body: str) -> ProviderOutput:
    """Text, usage and finish reason from a chat completion body (tolerant of extras)."""
    try:
        data = json.loads(body)
    except ValueError:
        raise CallError(BAD_RESPONSE, f"response is not JSON: {_short(body, 120)}") from None
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
        raise CallError(BAD_RESPONSE, f"response has no choices: {_short(body, 120)}")
    choice = choices[0]
    message = choice.get("message") or {}
    text = message.get("content") if isinstance(message, dict) else None
    if text is None and isinstance(message, dict):  # reasoning-only answers of some servers
        text = message.get("reasoning_content")
    if isinstance(text, list):  # content parts
        text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return ProviderOutput(
        text=str(text or ""),
        prompt_tokens=_int(usage.get("prompt_tokens")),
        completion_tokens=_int(usage.get("completion_tokens")),
        finish_reason=choice.get("finish_reason"),
        model=data.get("model"),
        raw=data,
    )


def _int(v: Any) -> int | None:
    try:
        return None if v is None else int(v)
    except (TypeError, ValueError):
        return None


def _short(text: str, n: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."
