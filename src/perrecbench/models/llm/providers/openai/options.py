"""The openai backend's own options: how its HTTP requests travel (answers are the same either way)."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: with at least this many requests in flight, `http_workers=auto` moves the SDK's HTTP
#: work into a helper process (when the machine has a second core for it)
WORKER_CONCURRENCY = 16


class OpenAIOptions(BaseModel):
    """`--option http=...` and `--option http_workers=...` of `openai/<model>` runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the SDK's HTTP library: aiohttp when installed (`openai[aiohttp]`), else httpx
    http: Literal["auto", "aiohttp", "httpx"] = "auto"
    #: helper processes that make the SDK's requests; auto: one at >= 16 in flight on 2+ cores
    http_workers: int | Literal["auto"] = Field(default="auto")


def workers_for(max_concurrency: int, http_workers: int | str = "auto") -> int:
    """How many worker processes a run uses. `auto`: one at >= WORKER_CONCURRENCY requests
    in flight on a multi-core machine (there the runner's one core is the limit), else none."""
    if http_workers != "auto":
        n = int(http_workers)
        if n < 0:
            from .....errors import ConfigError

            raise ConfigError(f"http_workers must be 0 or more, got {n}")
        return n
    return 1 if max_concurrency >= WORKER_CONCURRENCY and (os.cpu_count() or 1) >= 2 else 0
