"""The OpenAI SDK's side of the openai backend: async clients, one raw POST, error mapping.

Used in the runner's process, or in the helper processes of `pool` (see `worker`).
Requests go through the SDK's raw `post` (its documented way to call any endpoint): the
SDK still owns auth, URLs, timeouts and HTTP error classes, while the body is kept
exactly as the server sent it (the cache stores it) and a missing or odd field cannot
fail response validation. It also skips the typed request/response conversion, a
fifth of the client's CPU time per request.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from typing import Any

from ..... import failures
from .....errors import ConfigError
from ..base import CallError, ProviderOutput, short, status_error

HOSTED = "https://api.openai.com/v1"

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
    `pool` helper processes (see `worker`)."""

    def __init__(self, api_key: str, http: str = "auto"):
        self.api_key = api_key
        self.http = resolve_http(http)
        self._clients: dict[str | None, list[Any]] = {}
        self._load: dict[str | None, list[int]] = {}

    def warm_up(self, urls: Sequence[str | None] = ()) -> None:
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
                raise CallError(failures.CONNECTION, f"{_cause_text(exc)} ({url or HOSTED})") from None
            raise CallError(failures.TIMEOUT, str(exc) or "request timed out") from None
        except openai.APIConnectionError as exc:
            raise CallError(failures.CONNECTION, f"{exc} ({url or HOSTED})") from None
        except openai.APIStatusError as exc:
            raise status_error(exc) from None
        finally:
            load[i] -= 1

    async def aclose(self) -> None:
        for clients in self._clients.values():
            for client in clients:
                await client.close()
        self._clients.clear()


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
        raise CallError(failures.BAD_RESPONSE, f"response is not JSON: {short(body, 120)}") from None
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
        raise CallError(failures.BAD_RESPONSE, f"response has no choices: {short(body, 120)}")
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

