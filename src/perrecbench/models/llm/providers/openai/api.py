"""`openai/<model>`: the OpenAI API and every OpenAI-compatible server (vLLM, llama.cpp, ...).

Several base URLs spread requests over replicas of one deployment: each request goes
to the replica with the fewest requests in flight (ties rotate). Nothing here assumes
OpenAI-hosted behaviour: usage may be missing, the seed may be ignored, fields may be
extra or absent. The SDK's HTTP work runs here (`sdk.SdkClients`) or in helper
processes (`pool.WorkerPool`), as the backend's options say (`options.OpenAIOptions`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .....constants import DEFAULT_CONCURRENCY
from ..base import ModelAPI, ProviderOutput, is_local
from .options import OpenAIOptions, workers_for
from .sdk import HOSTED, SdkClients, parse_chat_response, resolve_http

if TYPE_CHECKING:
    from ...config import GenerateConfig
    from .pool import WorkerPool

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


class OpenAIAPI(ModelAPI):
    backend = "openai"
    key_env = KEY_ENV
    url_hint = "pass --base-url (or set OPENAI_BASE_URL) to use an OpenAI-compatible server such as vLLM"

    Options = OpenAIOptions

    def __init__(self, model: str, base_urls: Sequence[str] | None = None, options: BaseModel | None = None,
                 concurrency: int = DEFAULT_CONCURRENCY):
        super().__init__(model, base_urls, options, concurrency)
        options = options if isinstance(options, OpenAIOptions) else OpenAIOptions()
        urls = list(base_urls or []) or split_urls(os.environ.get(URL_ENV))
        self.base_urls = [u.rstrip("/") for u in urls]
        self.http = options.http
        #: helper processes for the SDK's HTTP work (0: in this process)
        self.http_workers = workers_for(concurrency, options.http_workers)
        targets: list[str | None] = [*self.base_urls] or [None]  # None: the SDK's default URL
        self._inflight: dict[str | None, int] = {u: 0 for u in targets}
        self._turn = 0
        self._local = bool(self.base_urls) and all(is_local(u) for u in self.base_urls)
        self._clients: SdkClients | None = None
        self._workers: WorkerPool | None = None

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
            from .pool import WorkerPool

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
                assert self._workers is not None
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


