"""`anthropic/<model>`: the Anthropic Messages API (system prompt as the `system` parameter)."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from .... import failures
from ....constants import DEFAULT_CONCURRENCY
from ....errors import ConfigError
from ..config import GenerateConfig
from .base import CallError, ModelAPI, ProviderOutput, is_local, short, status_error

HOSTED = "https://api.anthropic.com"
KEY_ENV = "ANTHROPIC_API_KEY"


class AnthropicAPI(ModelAPI):
    backend = "anthropic"
    key_env = KEY_ENV
    json_mode = False  # the Messages API has no JSON mode

    def __init__(self, model: str, base_urls: Sequence[str] | None = None, options: BaseModel | None = None,
                 concurrency: int = DEFAULT_CONCURRENCY):
        super().__init__(model, base_urls, options, concurrency)
        urls = [u.rstrip("/") for u in base_urls or []]
        if len(urls) > 1:
            raise ConfigError("the anthropic backend takes one --base-url")
        self.base_url = urls[0] if urls else None
        self._client: Any = None
        self._named: set[str] = set()
        self._local = is_local(self.base_url)

    @property
    def endpoint(self) -> str:
        return self.base_url or HOSTED

    @property
    def local(self) -> bool:
        return self._local

    @property
    def has_base_url(self) -> bool:
        return bool(self.base_url)

    def _get_client(self) -> Any:
        if self._client is None:
            self.check()
            from anthropic import AsyncAnthropic

            self._client = AsyncAnthropic(api_key=self._api_key(), base_url=self.base_url, max_retries=0)
            self._named = set(inspect.signature(self._client.messages.create).parameters)
        return self._client

    def request(self, messages: list[dict[str, str]], config: GenerateConfig, seed: int | None) -> dict[str, Any]:
        """Messages API arguments. The API has no seed and no JSON mode.

        Sampling options the installed SDK does not name go through `extra_body`; top_p
        is sent only when it is not 1.0 (the same distribution, and some models refuse
        temperature and top_p together).
        """
        if config.response_format is not None:
            raise ConfigError("the anthropic backend has no JSON mode; drop --json-mode")
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        chat = [m for m in messages if m["role"] != "system"]
        kw: dict[str, Any] = {"model": self.model, "messages": chat, "max_tokens": config.max_tokens or 800}
        if system:
            kw["system"] = system
        sampling: dict[str, Any] = {}
        if config.temperature is not None:
            sampling["temperature"] = config.temperature
        if config.top_p is not None and config.top_p != 1.0:
            sampling["top_p"] = config.top_p
        if config.stop:
            sampling["stop_sequences"] = list(config.stop)
        extra = {k: v for k, v in sampling.items() if k not in self._named}
        kw.update({k: v for k, v in sampling.items() if k in self._named})
        if extra:
            kw["extra_body"] = extra
        if config.timeout is not None:
            kw["timeout"] = config.timeout
        return kw

    async def generate(
        self, messages: list[dict[str, str]], config: GenerateConfig, seed: int | None
    ) -> ProviderOutput:
        import anthropic

        client = self._get_client()
        try:
            resp = await client.messages.create(**self.request(messages, config, seed))
        except anthropic.APITimeoutError as exc:
            raise CallError(failures.TIMEOUT, str(exc) or "request timed out") from None
        except anthropic.APIConnectionError as exc:
            raise CallError(failures.CONNECTION, f"{exc} ({self.endpoint})") from None
        except anthropic.APIStatusError as exc:  # 529: Anthropic's "overloaded"
            raise status_error(exc, failures.SERVER_ERROR if exc.status_code == 529 else None) from None
        except (anthropic.APIResponseValidationError, ValueError, TypeError) as exc:
            raise CallError(failures.BAD_RESPONSE, short(str(exc))) from None
        blocks = getattr(resp, "content", None)
        if blocks is None:
            raise CallError(failures.BAD_RESPONSE, f"response has no content: {short(str(resp))}")
        text = "".join(getattr(b, "text", "") for b in blocks if getattr(b, "type", "") == "text")
        usage = getattr(resp, "usage", None)
        try:
            raw = resp.model_dump(mode="json", exclude_unset=True)
        except Exception:  # an odd body must not stop the run
            raw = {"text": text}
        return ProviderOutput(
            text=text,
            prompt_tokens=getattr(usage, "input_tokens", None),
            completion_tokens=getattr(usage, "output_tokens", None),
            finish_reason=getattr(resp, "stop_reason", None),
            model=getattr(resp, "model", None),
            raw=raw,
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
