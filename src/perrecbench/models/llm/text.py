"""Free text from an LLM through the project's client (caching, retries, rate limits):
what `perrecbench profiles` asks a model to write."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ...errors import ConfigError
from ...prompts.components import Message
from .config import PAPER_DEFAULTS, GenerateConfig

#: a profile is a paragraph: the release's decoding, at most 600 new tokens
PROFILE_CONFIG = PAPER_DEFAULTS.merge(GenerateConfig(max_tokens=600))


def text_generator(
    model: str, base_url: str | None, config: GenerateConfig = PROFILE_CONFIG, task: str = "profile"
) -> tuple[Callable[[list[Message]], Awaitable[str]], Callable[[], Awaitable[None]]]:
    """(`generate(messages) -> text`, `close()`) for `model` (`backend/name`); a missing
    SDK or key fails here, before the first request."""
    from .cache import ResponseCache
    from .client import LLMClient
    from .providers import create_provider

    backend, sep, name = model.partition("/")
    if not sep or not name:
        raise ConfigError(f"--model {model!r}: use openai/<model>, anthropic/<model> or hf/<path or hub id>")
    api = create_provider(backend, name, [base_url] if base_url else None)
    api.check()  # missing SDK or key: fail now, not once per user
    client = LLMClient(api, cache=ResponseCache())

    async def generate(messages: list[Message]) -> str:
        return (await client.generate(messages, config, tags={"task": task})).text

    return generate, client.aclose
