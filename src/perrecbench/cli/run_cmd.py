"""`perrecbench run` (any model: LLMs and baselines) and `perrecbench cache stats|clear`.

This module binds arguments into a `run.plan.RunRequest` and prints; what runs is decided
by `run.plan`, reported by `terminal.run_text` and shown by `terminal.progress`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ..constants import DEFAULT_CONCURRENCY
from ..terminal.progress import console
from .llm_flags import llm_flags
from .lock_option import WAIT

if TYPE_CHECKING:
    from ..run.plan import RunRequest

_DRY = "Dry run"


@llm_flags("run")
def run(
    bench: Path = typer.Option(..., "--bench", "-b", help="benchmark directory"),
    model: str = typer.Option(..., "--model", "-m", help="baseline/<name>, openai/<model>, anthropic/<model>, "
                              "hf/<path or hub id> (a transformers model in this process; the train extra), "
                              "PATH.py:Class, module:Class, or an installed plugin (perrecbench models lists "
                              "them)"),
    method: str = typer.Option(..., "--method", help="point, pair, list, rating (rating prediction), several "
                               "comma-separated (e.g. point,list) or all (= point, pair and list)"),
    out: Path = typer.Option(..., "--out", "-o", help="run directory (resumed if it exists); with several "
                             "methods, OUT/<method> (or OUT with {method} replaced)"),
    levels: str | None = typer.Option(None, help="comma-separated levels (default: all in the benchmark)"),
    split: str = typer.Option("test", help="test, heldout or train"),
    limit: int | None = typer.Option(None, min=1, help="first N questions per level (also caps --pairs)"),
    pairs: str = typer.Option("400", "--pairs", help="rating: (user, item) pairs to predict, sampled from the "
                              "members of the split's questions; a number or all"),
    pairs_seed: int = typer.Option(0, "--pairs-seed", min=0, help="rating: seed of the pair sample"),
    max_concurrency: int = typer.Option(DEFAULT_CONCURRENCY, min=1,
                                        help="requests (LLM) or questions (baselines) at once"),
    reask: str = typer.Option(
        "transient", "--reask", help="ask failed questions of an earlier run again: transient (transport "
        "failures; answers that did not parse stay failed, their replies are cached), all (e.g. after a "
        "parser fix; replies come from the cache) or none"),
    retry_failed: str | None = typer.Option(None, "--retry-failed", hidden=True,
                                            help="old name of --reask"),
    option: list[str] = typer.Option([], "--option", help="model option key=value (repeatable)"),
    progress: bool = typer.Option(True, help="show progress"),
    dry_run: bool = typer.Option(False, "--dry-run", help="count requests, tokens and cost; call nothing",
                                 rich_help_panel=_DRY),
    llm_flags: dict[str, Any] | None = None,  # the LLM flags (`llm_flags`), from the options' declarations
    wait: bool = WAIT,
) -> None:
    """Run one model with one or more methods over a benchmark; resumable (rerun the same command).

    Several methods (`--method point,pair,list`) run in one process into OUT/<method>
    (or into OUT with `{method}` replaced), sharing the request slots, the cache and
    each question's prompt Components."""
    from ..run.plan import RunRequest, execute

    request = RunRequest.from_text(bench, model, method, out, levels, split, limit, max_concurrency,
                                   retry_failed or reask, option, pairs, pairs_seed, llm_flags)
    for warning in request.entry.warnings:
        console.print(f"[yellow]warning: {warning}[/yellow]", soft_wrap=True)
    if dry_run:
        _dry_run(request)
        return
    from ..terminal.progress import RunProgress
    from ..terminal.run_text import stats_text
    from .echo import end_of_run

    start = time.monotonic()
    with RunProgress(progress, f"{model} {','.join(request.methods)}") as bar:
        rec, summaries = execute(request, bar)
    stats = rec.stats()
    interrupted = any(s.interrupted for s in summaries)
    answered, failed_now, skipped = (sum(getattr(s, f) for s in summaries) for f in ("answered", "failed", "skipped"))
    usage = stats_text(stats)
    console.print(
        f"{'interrupted' if interrupted else 'done'}: {answered} answered now ({failed_now} failed), "
        f"{skipped} already done, {time.monotonic() - start:.1f} s" + (f"; {usage}" if usage else ""),
        soft_wrap=True,
    )
    end_of_run(summaries)


def _dry_run(request: RunRequest) -> None:
    from ..models.llm.pricing import PRICES_AS_OF
    from ..run.dry_run import dry_run
    from ..terminal.run_text import run_dry_run_lines

    for line in run_dry_run_lines(dry_run(request), PRICES_AS_OF):
        console.print(line)


cache_app = typer.Typer(help="The LLM response cache ($PERRECBENCH_HOME/cache.sqlite).", no_args_is_help=True)


@cache_app.command("stats")
def cache_stats(
    path: Path | None = typer.Option(None, help="cache file (default $PERRECBENCH_HOME/cache.sqlite)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Entries and size of the cache, per model."""
    from ..models.llm.cache import ResponseCache, default_cache_path

    p = path or default_cache_path()
    if not p.exists():
        console.print(f"no cache at {p}")
        return
    cache = ResponseCache(p)
    try:
        st = cache.stats()
    finally:
        cache.close()
    if as_json:
        typer.echo(json.dumps(st, indent=2, sort_keys=True))
        return
    console.print(f"{st['path']}: {st['entries']} responses, {st['components']} memoised question Components, "
                  f"{st['bytes_on_disk'] / 1e6:.1f} MB on disk", soft_wrap=True)
    for name, m in st["models"].items():
        console.print(f"  {name:<40} {m['entries']:>8} responses")


@cache_app.command("clear")
def cache_clear(
    model: str | None = typer.Option(None, help="only this backend/model (e.g. openai/gpt-4o-mini)"),
    path: Path | None = typer.Option(None, help="cache file (default $PERRECBENCH_HOME/cache.sqlite)"),
    yes: bool = typer.Option(False, "--yes", "-y", help="do not ask"),
) -> None:
    """Delete cached responses (all, or one model's)."""
    from ..models.llm.cache import ResponseCache, default_cache_path

    p = path or default_cache_path()
    if not p.exists():
        console.print(f"no cache at {p}")
        return
    what = f"the cached responses of {model}" if model else "every cached response"
    if not yes and not typer.confirm(f"delete {what} in {p}?"):
        sys.exit(1)
    cache = ResponseCache(p)
    try:
        n = cache.clear(model)
    finally:
        cache.close()
    console.print(f"deleted {n} responses from {p}")


def register(app: typer.Typer) -> None:
    """Add `run` and `cache` to the app."""
    app.command("run")(run)
    app.add_typer(cache_app, name="cache")
