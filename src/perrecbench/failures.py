"""The one vocabulary of failure categories, and what each means for asking again.

Every recorded failure -- a request that failed for good, an answer that could not be
read, an imported answer of the wrong shape, a bug -- carries one of these names (the
strings stored in `predictions.jsonl` and `calls.jsonl`). Three different "agains"
follow from a category, each with its own name in the code:

* **retry** (`Failure.retry`): the LLM client sends the *same request* again, with
  back-off (`--max-attempts`): the server was busy, slow or unreachable;
* **resample** (`Failure.resample`): the strategy asks for a *new sample* of an answer
  it could not read (`max_resamples`, 5 as released); the reply itself is cached;
* **re-ask** (`Failure.reask`): a later `perrecbench run` into the same run directory
  asks the *question* again (`--reask transient`, the default, re-asks exactly these).

`fatal` transport failures (a bad key, an unknown model) stop the client sending
anything more: every later request of the run would fail the same way. Setup problems
(`config`) are raised as `errors.ConfigError` and stop a run; they are listed here so
the vocabulary is complete. `internal` is a bug: recorded with its message, never
retried or re-asked by default (a rerun would hit it again; `--reask all` after a fix).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(str, Enum):
    """Where a failure comes from."""

    TRANSPORT = "transport"  # the request did not produce a usable response
    ANSWER = "answer"  # a response came, but it holds no usable answer
    SETUP = "setup"  # options or inputs that cannot work
    INTERNAL = "internal"  # a bug in PerRecBench or a plugin


@dataclass(frozen=True)
class Failure:
    """One category: its stored name, kind, meaning, and what it means for asking again."""

    name: str
    kind: Kind
    meaning: str
    retry: bool = False
    resample: bool = False
    reask: bool = False
    fatal: bool = False

    def __str__(self) -> str:
        return self.name


def _t(name: str, meaning: str, retry: bool = True, fatal: bool = False) -> Failure:
    return Failure(name, Kind.TRANSPORT, meaning, retry=retry, reask=True, fatal=fatal)


def _a(name: str, meaning: str) -> Failure:
    return Failure(name, Kind.ANSWER, meaning, resample=True)


RATE_LIMIT = _t("rate_limit", "the server said 429: too many requests (Retry-After honoured)")
SERVER_ERROR = _t("server_error", "the server failed (5xx, 409, Anthropic's 529 overloaded)")
TIMEOUT = _t("timeout", "no complete answer within the request timeout")
CONNECTION = _t("connection", "the server could not be reached (refused, reset, DNS)")
BAD_RESPONSE = _t("bad_response", "a 200 answer without a usable body (not JSON, no choices, truncated)")
BAD_REQUEST = _t("bad_request", "the server rejected the request (400/422: e.g. the prompt is too long)",
                 retry=False)
AUTH = _t("auth", "the server refused the key (401/403)", retry=False, fatal=True)
NOT_FOUND = _t("not_found", "the server does not know the model or the path (404)", retry=False, fatal=True)

EMPTY = _a("empty", "the answer text was blank")
NO_ANSWER = _a("no_answer", "no answer of the asked form was found in the text")
REFUSAL = _a("refusal", "the model declined to answer")
OUT_OF_RANGE = _a("out_of_range", "a rating outside the scale (1-5, or -4..4 for relative ratings)")
NOT_A_PERMUTATION = _a("not_a_permutation", "a ranking that does not name every user exactly once")
AMBIGUOUS = _a("ambiguous", "a pairwise answer that names both users")
INVALID_ANSWER = Failure("invalid_answer", Kind.ANSWER,
                         "an answer of the wrong shape (e.g. a length that does not match the group)")

CONFIG = Failure("config", Kind.SETUP, "options or inputs that cannot work; the run stops with the fix")
INTERNAL = Failure("internal", Kind.INTERNAL, "an unexpected error (a bug); recorded with its message")

ALL: tuple[Failure, ...] = (
    RATE_LIMIT, SERVER_ERROR, TIMEOUT, CONNECTION, BAD_RESPONSE, BAD_REQUEST, AUTH, NOT_FOUND,
    EMPTY, NO_ANSWER, REFUSAL, OUT_OF_RANGE, NOT_A_PERMUTATION, AMBIGUOUS, INVALID_ANSWER,
    CONFIG, INTERNAL,
)
BY_NAME: dict[str, Failure] = {f.name: f for f in ALL}
#: names written by earlier versions -> today's category
LEGACY: dict[str, Failure] = {
    "error": INTERNAL,  # the runner's catch-all before this vocabulary
    "format_not_correct": NO_ANSWER,  # the authors' parser could not read the answer
    "bad_shape": INVALID_ANSWER,
    "wrong_length": INVALID_ANSWER,
    "invalid_ranking": NOT_A_PERMUTATION,
}
#: the categories a parser can return
PARSE: tuple[Failure, ...] = tuple(f for f in ALL if f.kind is Kind.ANSWER and f is not INVALID_ANSWER)
#: how the detail of a request not sent after a `fatal` failure begins (the fatal detail follows)
NOT_SENT = "not sent after an earlier fatal error: "


def lookup(name: str | None) -> Failure:
    """The category called `name` (today's or a legacy name); unknown names are internal."""
    if name is None:
        return INTERNAL
    return BY_NAME.get(name) or LEGACY.get(name) or INTERNAL


def for_http_status(status: int) -> Failure:
    """The transport category of an HTTP error status."""
    if status == 429:
        return RATE_LIMIT
    if status in (401, 403):
        return AUTH
    if status == 404:
        return NOT_FOUND
    if status == 408:
        return TIMEOUT
    if status == 409 or status >= 500:
        return SERVER_ERROR
    return BAD_REQUEST


def describe() -> str:
    """The vocabulary as a short table, for help texts and docs."""
    rows = []
    for f in ALL:
        again = ", ".join(w for w, on in (("retried", f.retry), ("resampled", f.resample),
                                            ("re-asked", f.reask), ("stops the client", f.fatal)) if on)
        rows.append(f"{f.name:<18} {f.kind.value:<9} {f.meaning}" + (f" [{again}]" if again else ""))
    return "\n".join(rows)
