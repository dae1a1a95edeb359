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

import importlib.util
import json
import os
import re
from typing import TYPE_CHECKING, Any

from ....errors import ConfigError
from .base import (
    BAD_RESPONSE,
    CONNECTION,
    TIMEOUT,
    CallError,
    ModelAPI,
    ProviderOutput,
    is_local,
    short,
    status_error,
)

if TYPE_CHECKING:  # the worker process imports this module; pydantic models stay out
    from ..config import GenerateConfig

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


#: SDK clients per replica with the httpx transport. Each client's connection pool scans
#: all its connections on every request; several small pools instead of one big one save
#: ~20 % client CPU at 32 requests in flight (measured with benchmarks/run_speed.py).
HTTPX_SHARDS = 4
#: `http` option values: which HTTP library the SDK uses
HTTP_CHOICES = ("auto", "aiohttp", "httpx")


def resolve_http(choice: str) -> str:
    """`auto` is aiohttp when installed (the SDK's `openai[aiohttp]` extra: about a
    fifth less CPU per request than httpx here), else httpx."""
    if choice not in HTTP_CHOICES:
        raise ConfigError(f"http must be one of {', '.join(HTTP_CHOICES)}, got {choice!r}")
    if choice != "auto":
        return choice
    if importlib.util.find_spec("aiohttp") is None:
        return "httpx"
    from importlib.metadata import PackageNotFoundError, version

    try:
        major, minor = (int(x) for x in version("openai").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return "httpx"
    return "aiohttp" if (major, minor) >= (1, 89) else "httpx"


class SdkClients:
    """The SDK's async clients (per base URL, created on first use) and one raw POST
    with the SDK's errors mapped to `CallError`. Used in the runner's process, or in
    `http_worker` processes."""

    def __init__(self, api_key: str, http: str = "auto"):
        self.api_key = api_key
        self.http = resolve_http(http)
        self._clients: dict[str | None, list[Any]] = {}
        self._load: dict[str | None, list[int]] = {}

    def warm_up(self, urls: list[str | None] = ()) -> None:
        """Import the SDK and build the clients for `urls` now rather than at the first
        request (a client costs ~0.1 s: its SSL context loads the CA bundle)."""
        import openai  # noqa: F401

        for url in urls:
            self._client(url)

    def _client(self, url: str | None) -> tuple[Any, list[int], int]:
        clients = self._clients.get(url)
        if clients is None:
            shards = HTTPX_SHARDS if self.http == "httpx" else 1
            clients = self._clients[url] = [_sdk_client(url, self.api_key, self.http) for _ in range(shards)]
            self._load[url] = [0] * shards
        load = self._load[url]
        i = min(range(len(clients)), key=load.__getitem__)
        return clients[i], load, i

    async def post(self, url: str | None, path: str, body: dict[str, Any], timeout: float | None) -> str:
        import openai

        client, load, i = self._client(url)
        load[i] += 1
        try:
            return await client.post(path, body=body, cast_to=str,
                                     options={} if timeout is None else {"timeout": timeout})
        except openai.APITimeoutError as exc:
            if _refused(exc):  # the aiohttp transport reports a refused connection as a timeout
                raise CallError(CONNECTION, f"{_cause_text(exc)} ({url or HOSTED})") from None
            raise CallError(TIMEOUT, str(exc) or "request timed out") from None
        except openai.APIConnectionError as exc:
            raise CallError(CONNECTION, f"{exc} ({url or HOSTED})") from None
        except openai.APIStatusError as exc:
            raise status_error(exc) from None
        finally:
            load[i] -= 1

    async def aclose(self) -> None:
        for clients in self._clients.values():
            for client in clients:
                await client.close()
        self._clients.clear()


class OpenAIAPI(ModelAPI):
    backend = "openai"
    key_env = KEY_ENV
    url_hint = "pass --base-url (or set OPENAI_BASE_URL) to use an OpenAI-compatible server such as vLLM"

    def __init__(self, model: str, base_urls: list[str] | None = None, http: str = "auto", http_workers: int = 0):
        super().__init__(model)
        urls = list(base_urls or []) or split_urls(os.environ.get(URL_ENV))
        self.base_urls = [u.rstrip("/") for u in urls]
        self.http = http
        self.http_workers = http_workers
        self._inflight = {u: 0 for u in self.base_urls or [None]}
        self._turn = 0
        self._local = bool(self.base_urls) and all(is_local(u) for u in self.base_urls)
        self._clients: SdkClients | None = None
        self._workers: Any = None

    @property
    def endpoint(self) -> str:
        return ",".join(sorted(self.base_urls)) if self.base_urls else HOSTED

    @property
    def local(self) -> bool:
        return self._local

    @property
    def has_base_url(self) -> bool:
        return bool(self.base_urls)

    def _pick(self) -> str | None:
        """The replica with the fewest requests in flight (ties rotate)."""
        urls = list(self._inflight)
        start = self._turn
        self._turn = (self._turn + 1) % len(urls)
        j = min(range(len(urls)), key=lambda j: (self._inflight[urls[(start + j) % len(urls)]], j))
        return urls[(start + j) % len(urls)]

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

    def start(self) -> None:
        """Spawn the HTTP worker processes ahead of the first request (if any are used)."""
        if self.http_workers > 0 and self._workers is None:
            from .http_worker import WorkerPool

            self.check()
            self._workers = WorkerPool(self.http_workers, resolve_http(self.http), self.key_env,
                                       list(self._inflight))
            self._workers.start()

    async def generate(
        self, messages: list[dict[str, str]], config: GenerateConfig, seed: int | None
    ) -> ProviderOutput:
        url = self._pick()
        body = self.request(messages, config, seed)
        self._inflight[url] += 1
        try:
            if self.http_workers > 0:
                self.start()
                text = await self._workers.post(url, "/chat/completions", body, config.timeout)
            else:
                if self._clients is None:
                    self.check()
                    self._clients = SdkClients(self._api_key(), self.http)
                text = await self._clients.post(url, "/chat/completions", body, config.timeout)
        finally:
            self._inflight[url] -= 1
        return parse_chat_response(text)

    async def aclose(self) -> None:
        if self._clients is not None:
            await self._clients.aclose()
            self._clients = None
        if self._workers is not None:
            await self._workers.aclose()
            self._workers = None


def _causes(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and e not in out and len(out) < 8:
        out.append(e)
        e = e.__cause__ or e.__context__
    return out


def _refused(exc: BaseException) -> bool:
    """An OS-level connection failure (refused, unreachable) somewhere in the chain, as
    opposed to a real timeout."""
    return any(isinstance(e, OSError) and not isinstance(e, TimeoutError) for e in _causes(exc)[1:])


def _cause_text(exc: BaseException) -> str:
    return str(_causes(exc)[-1]) or "connection failed"


def _sdk_client(url: str | None, key: str, http: str) -> Any:
    """An SDK client that does not retry (the LLMClient does). Plain-http servers skip
    loading the CA bundle, which costs ~0.1 s per client and is never used there."""
    from openai import AsyncOpenAI

    plain = bool(url and url.startswith("http://"))
    if http == "aiohttp":
        try:
            from openai import DefaultAioHttpClient
        except ImportError:  # an SDK older than 1.89
            raise ConfigError("http=aiohttp needs openai>=1.89: pip install -U 'openai[aiohttp]'") from None
        client = DefaultAioHttpClient(verify=False) if plain else DefaultAioHttpClient()
    elif plain:
        from openai import DefaultAsyncHttpxClient

        client = DefaultAsyncHttpxClient(verify=False)
    else:
        client = None
    return AsyncOpenAI(base_url=url, api_key=key, max_retries=0, http_client=client)


def parse_chat_response(body: str) -> ProviderOutput:
    """Text, usage and finish reason from a chat completion body (tolerant of extras)."""
    try:
        data = json.loads(body)
    except ValueError:
        raise CallError(BAD_RESPONSE, f"response is not JSON: {short(body, 120)}") from None
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
        raise CallError(BAD_RESPONSE, f"response has no choices: {short(body, 120)}")
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

