"""What a run's model calls cost, read from its `calls.jsonl` (SPEC 6: cost is an output).

The call log has one line per attempt of every session of the run (a resumed run
appends), so the totals here are what the run cost in all, not only its last session:

    status "ok"             an answer received from the server: its tokens and `cost_usd` count
    status "cached"         an answer served from the response cache: paid before, not again
    status "error"          an attempt that failed (429, 5xx, timeout, ...), by `category`
    status "skipped"        a request not sent after a fatal error
    status "parse_failure"  a note beside an answer that could not be parsed, by `category`

`cost_usd` is absent on an "ok" line when the model has no known price; such answers are
counted in `unpriced` instead of being taken as free. A line that is not a call record
(`records.CallRecord`: a torn last line of a killed run, a stray edit) is counted in
`bad_lines` and skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..records import CallRecord
from ..run.rundir import CALLS


@dataclass(frozen=True)
class CallCosts:
    """Totals over one run's call log."""

    lines: int = 0
    answered: int = 0  # "ok": answers received (and paid for)
    cached: int = 0  # answers served from the response cache
    errors: dict[str, int] = field(default_factory=dict)  # failed attempts by category
    parse_failures: dict[str, int] = field(default_factory=dict)  # unparseable answers by category
    skipped: int = 0  # requests not sent after a fatal error
    prompt_tokens: int = 0  # of the answers received
    completion_tokens: int = 0
    no_usage: int = 0  # answers received whose server reported no token usage
    cost_usd: float = 0.0  # sum over the answers received that have a known price
    unpriced: int = 0  # answers received without a known price
    bad_lines: int = 0  # lines that are not JSON objects (skipped)

    @property
    def sent(self) -> int:
        """Requests that went to the server: answers plus failed attempts."""
        return self.answered + sum(self.errors.values())

    @property
    def cost_known(self) -> bool:
        return self.unpriced == 0


def summarize_calls(lines: Iterable[str]) -> CallCosts:
    """Totals over call-log lines (text, one JSON object each)."""
    n = answered = cached = skipped = prompt = completion = no_usage = unpriced = bad = 0
    cost = 0.0
    errors: Counter[str] = Counter()
    parse: Counter[str] = Counter()
    for line in lines:
        if not line.strip():
            continue
        n += 1
        try:
            rec = CallRecord.from_json(line)
        except ValueError:  # not JSON, not an object, or not a call line (pydantic's error is one)
            bad += 1
            continue
        if rec.status == "ok":
            answered += 1
            usage = rec.usage
            if usage is None or (usage.prompt_tokens is None and usage.completion_tokens is None):
                no_usage += 1
            prompt += (usage.prompt_tokens or 0) if usage else 0
            completion += (usage.completion_tokens or 0) if usage else 0
            if rec.cost_usd is not None:
                cost += rec.cost_usd
            else:
                unpriced += 1
        elif rec.status == "cached":
            cached += 1
        elif rec.status == "error":
            errors[rec.category or "unknown"] += 1
        elif rec.status == "skipped":
            skipped += 1
        elif rec.status == "parse_failure":
            parse[rec.category or "unknown"] += 1
    return CallCosts(
        lines=n, answered=answered, cached=cached, errors=dict(sorted(errors.items())),
        parse_failures=dict(sorted(parse.items())), skipped=skipped, prompt_tokens=prompt,
        completion_tokens=completion, no_usage=no_usage, cost_usd=cost, unpriced=unpriced,
        bad_lines=bad,
    )


def read_call_costs(run_dir: Path | str) -> CallCosts | None:
    """Totals of `RUN_DIR/calls.jsonl`; None when the run has no call log (baselines)."""
    path = Path(run_dir) / CALLS
    if not path.exists():
        return None
    with open(path, encoding="utf-8", errors="replace") as fh:
        return summarize_calls(fh)
