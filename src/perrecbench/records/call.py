"""One line of `calls.jsonl`: one attempt at one LLM request (or an event about its answer).

Written by the LLM client through the run's call log, one line per attempt whether the
answer came from the cache, the server, or not at all; no prompt text unless the run
asked for it (`--log-prompts`). Keys never appear: details are redacted when written.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ..redaction import redact

Status = Literal["cached", "ok", "error", "skipped", "parse_failure"]


class CallUsage(BaseModel):
    model_config = ConfigDict(frozen=True)

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class CallRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ts: float
    status: Status
    # what the call was about (the strategy's tags)
    question_id: str | None = None
    level: str | None = None
    method: str | None = None
    member: int | None = None
    pair: list[int] | None = None
    order: str | None = None
    task: str | None = None
    # the request
    sample: int = 0
    attempt: int | None = None
    key: str | None = None
    model: str | None = None
    latency_s: float | None = None
    usage: CallUsage | None = None
    finish_reason: str | None = None
    cost_usd: float | None = None
    # a failed attempt, or an answer that could not be parsed
    category: str | None = None
    http_status: int | None = None
    detail: str | None = None
    retry_in_s: float | None = None
    # with --log-prompts
    messages: list[dict[str, str]] | None = None
    response: str | None = None

    def to_json(self) -> str:
        return redact(json.dumps(self.model_dump(mode="json", exclude_none=True), sort_keys=True,
                                 ensure_ascii=False))

    @classmethod
    def from_json(cls, line: str | bytes) -> CallRecord:
        data: Any = json.loads(line)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return cls.model_validate(data)
