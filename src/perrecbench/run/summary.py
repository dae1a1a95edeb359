"""What a finished (or interrupted) run says at the end: answers per run directory,
failures by category, what answering cost, and what a rerun would do about failures."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..failures import NOT_SENT, Kind, lookup
from ..redaction import redact
from .costs import CALLS_PER_QUESTION, INCONSISTENCY, cost_series
from .reask import should_reask
from .rundir import RunDir
from .runner import RunSummary


@dataclass
class DirOutcome:
    """One run directory after the run: every recorded answer, not only this invocation's."""

    run_dir: Path
    total: int  # questions asked
    ok: int = 0
    failed: int = 0
    categories: Counter = field(default_factory=Counter)
    reaskable: int = 0  # failed answers a rerun asks again (--reask transient)
    unparsed: int = 0  # failed because no answer could be read (re-parse: --reask all)
    internal: int = 0  # failed on a bug
    causes: Counter = field(default_factory=Counter)  # (category, detail) of each failure
    calls_per_question: float | None = None
    inconsistency: float | None = None

    def cost_text(self) -> str:
        parts = []
        if self.calls_per_question is not None:
            parts.append(f"{self.calls_per_question:.1f} calls/question")
        if self.inconsistency is not None:
            parts.append(f"{self.inconsistency:.1%} of pairs inconsistent")
        return ", ".join(parts)


def outcome(summary: RunSummary) -> DirOutcome:
    preds = [rec.prediction for rec in RunDir(summary.run_dir).read_predictions()]
    out = DirOutcome(summary.run_dir, summary.total)
    for p in preds:
        if p.ok:
            out.ok += 1
            continue
        out.failed += 1
        category = lookup(p.failure)
        out.categories[category.name] += 1
        out.reaskable += should_reask(p, "transient")
        out.unparsed += category.kind is Kind.ANSWER
        out.internal += category.kind is Kind.INTERNAL
        out.causes[(category.name, _cause(p.failure_detail))] += 1
    series = cost_series(preds, summary.method)
    if series.get(CALLS_PER_QUESTION):
        out.calls_per_question = sum(series[CALLS_PER_QUESTION]) / len(series[CALLS_PER_QUESTION])
    if series.get(INCONSISTENCY):
        out.inconsistency = sum(series[INCONSISTENCY]) / len(series[INCONSISTENCY])
    return out


def outcomes(summaries: Sequence[RunSummary]) -> list[DirOutcome]:
    return [outcome(s) for s in summaries]


def _cause(detail: str | None) -> str:
    """A failure's message as the transport gave it (redacted), one line; the requests
    not sent after a fatal failure count towards that failure's message."""
    text = redact(" ".join((detail or "").split()))
    return text.removeprefix(NOT_SENT)[:300]


def top_cause(outcomes: Sequence[DirOutcome]) -> tuple[str, str, int] | None:
    """(category, message, count) of the most common failure over all directories."""
    total: Counter = Counter()
    for o in outcomes:
        total.update(o.causes)
    if not total:
        return None
    (category, detail), n = total.most_common(1)[0]
    return category, detail, n


def nothing_answered(summaries: Sequence[RunSummary]) -> bool:
    """Questions were left to ask and the model answered not one of them (a dead server, a
    rejected key): the command fails. A resumed run with nothing left to ask does not, nor
    does a model whose answers could not be read (that is a result: scored as failed)."""
    asked = sum(s.answered for s in summaries)
    return asked > 0 and sum(s.replied for s in summaries) == 0
