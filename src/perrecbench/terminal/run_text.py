"""How a run's figures read on the terminal: usage while it runs, the dry-run estimate,
and the end-of-run summary."""

from __future__ import annotations

from collections.abc import Sequence

from ..models.base import UsageStats
from ..models.llm.estimate import Estimate
from ..run.dry_run import DryRun
from ..run.summary import DirOutcome, top_cause


def fmt_tokens(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e3 else str(n)


def fmt_cost(cost: float | None) -> str:
    return "?" if cost is None else f"${cost:.4f}" if cost < 1 else f"${cost:.2f}"


def stats_text(stats: UsageStats) -> str:
    """One short line of usage for the progress bar ("" for models that make no calls)."""
    if not stats.calls:
        return ""
    parts = [
        f"req {stats.requests}",
        f"cached {stats.cache_hits}",
        f"tok {fmt_tokens(stats.prompt_tokens)}/{fmt_tokens(stats.completion_tokens)}",
        fmt_cost(stats.cost_usd),
    ]
    if stats.retries:
        parts.append(f"retries {stats.retries}")
    failures = sum(stats.failures.values())
    if failures:
        parts.append(f"failed calls {failures}")
    return " · ".join(parts)


def estimate_lines(est: Estimate, prices_as_of: str) -> list[str]:
    lines = [f"[bold]dry run[/bold]: {est.model} · {est.method} · {est.questions} questions"]
    for level, lv in est.per_level.items():
        lines.append(
            f"  {level:<7} {lv['questions']:>5} questions  {lv['requests']:>7} requests  "
            f"~{fmt_tokens(lv['prompt_tokens'])} prompt + ~{fmt_tokens(lv['output_tokens'])} output tokens"
        )
    lines.append(
        f"  total   {est.requests} requests ({est.cached} already cached), "
        f"~{fmt_tokens(est.prompt_tokens)} prompt + ~{fmt_tokens(est.output_tokens)} output tokens, "
        f"cost ~{fmt_cost(est.cost_usd)}"
        + ("" if est.cost_usd is not None else " (no price known for this model; add one with --prices FILE)")
    )
    lines.extend(f"  [dim]{note}[/dim]" for note in [*est.notes, f"prices as of {prices_as_of}"])
    return lines


def run_dry_run_lines(dry: DryRun, prices_as_of: str) -> list[str]:
    """`run --dry-run`: the estimate of each method."""
    if not dry.calls:
        return [f"dry run: {dry.model} makes no model calls"]
    return [line for r in dry.runs for line in estimate_lines(r.estimate, prices_as_of)]


def sweep_dry_run_lines(dry: DryRun) -> list[str]:
    """`sweep --dry-run`: a line per cell and method, then the totals."""
    if not dry.calls:
        return [f"dry run: {dry.cells} cells of {dry.model}, which makes no model calls"]
    lines = [f"  {r.cell:<28} {r.method:<6} {r.estimate.questions:>5} questions {r.estimate.requests:>7} "
             f"requests ({r.estimate.cached} cached)  ~{fmt_tokens(r.estimate.prompt_tokens)} prompt tokens  "
             f"~{fmt_cost(r.estimate.cost_usd)}" for r in dry.runs]
    total = dry.total()
    lines.append(f"[bold]dry run[/bold]: {dry.model} · {dry.cells} cells · {total.requests} requests "
                 f"({total.cached} already cached), ~{fmt_tokens(total.prompt_tokens)} prompt + "
                 f"~{fmt_tokens(total.output_tokens)} output tokens, cost ~{fmt_cost(total.cost_usd)}")
    lines.append("  [dim]cells that ask the same request are counted once each (the run asks it once); "
                 "parse retries not included[/dim]")
    return lines


def nothing_answered_line() -> str:
    """Why a run whose every question failed ends with an error."""
    return ("[red]error: not one question got an answer (see the most common failure above); fix the cause "
            "and run the same command again[/red]")


def summary_lines(outcomes: Sequence[DirOutcome]) -> list[str]:
    """A line per run directory, then what a rerun would do about the failures."""
    lines = []
    for o in outcomes:
        by_cat = ", ".join(f"{c} {n}" for c, n in o.categories.most_common())
        cost = o.cost_text()
        lines.append(f"{o.run_dir}: {o.ok} ok, {o.failed} failed" + (f" ({by_cat})" if by_cat else "")
                     + f" of {o.total} questions" + (f"; {cost}" if cost else ""))
    cause = top_cause(outcomes)
    if cause is not None:
        category, detail, n = cause
        from rich.markup import escape  # the server's words are text, not markup

        lines.append(f"most common failure: {category} ({n})" + (f": {escape(detail)}" if detail else ""))
    if sum(o.reaskable for o in outcomes):
        lines.append("[dim]questions that failed in transport are asked again when you rerun the same "
                     "command[/dim]")
    unparsed = sum(o.unparsed for o in outcomes)
    if unparsed:
        lines.append(f"[dim]{unparsed} answers did not parse; after a parser fix, rerun with --reask all "
                     "(their replies come from the cache)[/dim]")
    internal = sum(o.internal for o in outcomes)
    if internal:
        lines.append(f"[yellow]{internal} questions failed on an internal error (see failure_detail in "
                     "predictions.jsonl); they are not asked again unless you rerun with --reask all[/yellow]")
    return lines
