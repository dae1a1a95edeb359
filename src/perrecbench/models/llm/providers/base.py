"""The provider contract: one request in, one `ProviderOutput` or one `CallError` out.

Providers do no retrying, caching or logging -- `client.LLMClient` owns those -- so a
new API is one small class: build the request, call the SDK, map its errors to the
categories of `perrecbench.failures`. A provider with settings of its own declares them
as a pydantic `Options` class; capabilities are class attributes (`json_mode`).
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict

from .... import failures
from ....constants import DEFAULT_CONCURRENCY
from ....errors import ModelError, install_hint
from ....failures import Failure
from ....redaction import redact

if TYPE_CHECKING:
    from ..config import GenerateConfig


@dataclass
class ProviderOutput:
    """What one successful request returned; `raw` is the JSON body, kept in the cache."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    model: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


class CallError(Exception):
    """A request that failed, classified so the client knows whether to retry."""

    def __init__(
        self,
        failure: Failure,
        detail: str,
        status: int | None = None,
        retry_after: float | None = None,
    ):
        detail = redact(detail)  # a server may quote the key back; it never travels further
        super().__init__(f"{failure.name}: {detail}")
        self.failure = failure
        self.detail = detail
        self.status = status
        self.retry_after = retry_after

    @property
    def category(self) -> str:
        return self.failure.name

    @property
    def retryable(self) -> bool:
        return self.failure.retry


def short(text: str, n: int = 300) -> str:
    """`text` on one line, cut to `n` characters (for error details and logs)."""
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."


def status_error(exc: Any, failure: Failure | None = None) -> CallError:
    """The `CallError` for an SDK's `APIStatusError` (the openai and anthropic SDKs share
    its shape: `status_code`, `response.headers`, `message`), with `Retry-After` read."""
    from ..limits import parse_retry_after

    status = exc.status_code
    retry_after = parse_retry_after(exc.response.headers) if exc.response is not None else None
    return CallError(failure or failures.for_http_status(status), short(exc.message), status, retry_after)


def is_local(url: str | None) -> bool:
    """True for a server on this machine or a private network (free; no key needed)."""
    if not url:
        return False
    host = urlparse(url).hostname or ""
    if host in ("localhost", "") or host.endswith(".local"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private or ip.is_unspecified or ip.is_link_local


class NoOptions(BaseModel):
    """The `Options` of a provider that has none of its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelAPI(ABC):
    """One backend. `endpoint` identifies where answers come from (part of the cache key).

    The constructor is the contract: every provider -- built in or a plugin's -- is made
    as `cls(model, base_urls, options, concurrency)` by `providers.create_provider`:
    `model` is what follows `<backend>/` in `--model`, `base_urls` the `--base-url`s
    (empty: the provider's default server), `options` an instance of the class's
    `Options` (already validated; `self.options`), `concurrency` the run's requests in
    flight (a hint for providers that size pools by it). A subclass that takes other
    arguments is not a provider; one that needs setup overrides `__init__` with this
    signature and calls `super().__init__(...)` first."""

    backend: str = "base"
    #: the provider's own settings (a pydantic model class; `NoOptions` when it has none)
    Options: type[BaseModel] = NoOptions
    #: whether the backend can be asked for JSON answers (`--json-mode`)
    json_mode: bool = True

    def __init__(self, model: str, base_urls: Sequence[str] | None = None, options: BaseModel | None = None,
                 concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self.model = model
        self.options = options if options is not None else self.Options()
        self.concurrency = concurrency

    def connection_key(self) -> Hashable:
        """Providers with equal keys can share one object (its connection, helper processes
        and pools): a sweep's cells send through one when their keys are equal. By default
        the backend, the model, the server and the settings that change answers; a
        provider whose connection depends on more (a credential, a region) adds it."""
        return (self.backend, self.model, self.endpoint, json.dumps(self.output_config(), sort_keys=True,
                                                                    default=str))

    def output_config(self) -> dict[str, Any]:
        """Provider settings that change answers, for the run's config (e.g. a local adapter)."""
        return {}

    @property
    @abstractmethod
    def endpoint(self) -> str:
        """Canonical server identity for cache keys and manifests (never a key or token)."""

    @property
    def local(self) -> bool:
        """Whether calls are free (a local server)."""
        return False

    #: environment variable holding the API key
    key_env: str = ""
    #: how to reach a self-hosted server instead, for the missing-key message
    url_hint: str = "pass --base-url for a compatible server"

    @property
    def has_base_url(self) -> bool:
        """A server was named: a missing key is then sent as a placeholder."""
        return False

    def _api_key(self) -> str:
        key = os.environ.get(self.key_env)
        if key:
            return key
        if self.has_base_url:
            return "EMPTY"  # local/self-hosted servers rarely check it
        raise ModelError(
            f"{self.backend}/{self.model} needs an API key: set {self.key_env}, or {self.url_hint}"
        )

    def start(self) -> None:
        """Get ready for requests ahead of the first one (no request is sent); optional."""
        return None

    def check(self) -> None:
        """Raise ModelError if the backend cannot work (missing SDK or key); no request made."""
        # find_spec, not import: a fully cached run never pays for loading the SDK
        if importlib.util.find_spec(self.backend) is None:
            raise ModelError(
                f"the {self.backend} backend needs the SDK: {install_hint(self.backend)}"
            )
        self._api_key()

    @abstractmethod
    async def generate(
        self, messages: list[dict[str, str]], config: GenerateConfig, seed: int | None
    ) -> ProviderOutput:
        """Send one request; raise CallError on any failure."""

    async def aclose(self) -> None:  # noqa: B027
        """Close connections."""
