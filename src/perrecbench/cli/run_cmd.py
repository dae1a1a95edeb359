"""`perrecbench run` (any model: LLMs and baselines) and `perrecbench cache stats|clear`.

This module binds arguments into a `run.plan.RunRequest` and prints; what runs is decided
by `run.plan`, reported by `report.run_text` and shown by `report.progress`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..report.progress import console
from ..run.runner import DEFAULT_CONCURRENCY
from .bounds import finite, fraction, positive
from .lock_option import WAIT

if TYPE_CHECKING:
    from ..run.plan import RunRequest

_LLM_HELP = "LLM"
_DRY = "Dry run"


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
    prices: Path | None = typer.Option(None, help="JSON price file: model -> (input, output) USD per 1M tokens",
                                          rich_help_panel=_DRY),
    base_url: list[str] = typer.Option([], "--base-url", help="OpenAI-compatible server; repeat for replicas",
                                       rich_help_panel=_LLM_HELP),
    rpm: float | None = typer.Option(None, callback=positive, help="requests per minute cap",
                                     rich_help_panel=_LLM_HELP),
    tpm: float | None = typer.Option(None, callback=positive, help="tokens per minute cap",
                                     rich_help_panel=_LLM_HELP),
    temperature: float | None = typer.Option(None, min=0, max=2, callback=finite, help="default 0.1 (as released)",
                                             rich_help_panel=_LLM_HELP),
    top_p: float | None = typer.Option(None, callback=fraction, help="default 1.0", rich_help_panel=_LLM_HELP),
    max_tokens: int | None = typer.Option(None, min=1, help="default 800, pair 512", rich_help_panel=_LLM_HELP),
    seed: int | None = typer.Option(None, min=0, help="request seed (sample i gets seed+i)",
                                    rich_help_panel=_LLM_HELP),
    samples: int | None = typer.Option(None, min=1, help="self-consistency samples (majority vote)",
                                          rich_help_panel=_LLM_HELP),
    stop: list[str] = typer.Option([], "--stop", help="stop sequence (repeatable)", rich_help_panel=_LLM_HELP),
    json_mode: str | None = typer.Option(None, help="off, object, schema (OpenAI/vLLM) or object-schema "
                                            "(llama.cpp)", rich_help_panel=_LLM_HELP),
    timeout: float | None = typer.Option(None, callback=positive, help="seconds per request (default 120)",
                                            rich_help_panel=_LLM_HELP),
    max_attempts: int | None = typer.Option(None, min=1, help="tries per request on 429/5xx/timeouts (default 6)",
                                               rich_help_panel=_LLM_HELP),
    no_cache: bool = typer.Option(False, "--no-cache", help="neither read nor write the response cache",
                                  rich_help_panel=_LLM_HELP),
    cache_path: Path | None = typer.Option(None, help="cache file (default $PERRECBENCH_HOME/cache.sqlite)",
                                              rich_help_panel=_LLM_HELP),
    log_prompts: bool = typer.Option(False, help="also write prompts and answers to calls.jsonl",
                                     rich_help_panel=_LLM_HELP),
    pair_strategy: str | None = typer.Option(None, help="heap (as released) or allpairs",
                                                rich_help_panel=_LLM_HELP),
    cot: bool = typer.Option(False, "--cot", help="chain-of-thought prompts", rich_help_panel=_LLM_HELP),
    shots: int | None = typer.Option(None, min=0, help="few-shot demonstrations", rich_help_panel=_LLM_HELP),
    profile: str | None = typer.Option(None, help="none, offline or a profiles label", rich_help_panel=_LLM_HELP),
    k: int | None = typer.Option(None, "--k", min=0, help="history items per user (default 4)",
                                    rich_help_panel=_LLM_HELP),
    rel_rating: bool = typer.Option(False, "--rel-rating", help="show relative ratings",
                                    rich_help_panel=_LLM_HELP),
    prompt_set: str | None = typer.Option(None, help="default, official, official-sample-run, or a rating "
                                          "family: rating-wang, rating-liu, rating-dai, rating-bookgpt",
                                          rich_help_panel=_LLM_HELP),
    prompt_variant: int | None = typer.Option(None, min=0, max=3,
                                              help="rating families: template variant 0-3 (default 0)",
                                              rich_help_panel=_LLM_HELP),
    templates: Path | None = typer.Option(None, help="the authors' template dir (official prompt sets)",
                                             rich_help_panel=_LLM_HELP),
    describe_items: bool = typer.Option(False, "--describe-items", help="include item descriptions",
                                        rich_help_panel=_LLM_HELP),
    wait: bool = WAIT,
) -> None:
    """Run one model with one or more methods over a benchmark; resumable (rerun the same command).

    Several methods (`--method point,pair,list`) run in one process into OUT/<method>
    (or into OUT with `{method}` replaced), sharing the request slots, the cache and
    each question's prompt Components."""
    from ..run.plan import (
        RunRequest,
        execute,
        parse_levels,
        parse_methods,
        parse_option_pairs,
        parse_pairs,
    )

    request = RunRequest(
        bench=bench, model=model, methods=parse_methods(method), out=out, levels=parse_levels(levels),
        split=split, limit=limit, max_concurrency=max_concurrency, reask=retry_failed or reask,
        options=parse_option_pairs(option), pairs=parse_pairs(pairs), rating_seed=pairs_seed,
        llm_flags={
            "base_url": list(base_url) or None, "rpm": rpm, "tpm": tpm, "temperature": temperature,
            "top_p": top_p, "max_tokens": max_tokens, "seed": seed, "samples": samples,
            "stop": list(stop) or None, "json_mode": json_mode, "timeout": timeout,
            "max_attempts": max_attempts, "cache": False if no_cache else None,
            "cache_path": str(cache_path) if cache_path else None, "log_prompts": log_prompts or None,
            "pair_strategy": pair_strategy, "cot": cot or None, "shots": shots, "profile": profile, "k": k,
            "rel_rating": rel_rating or None, "prompt_set": prompt_set, "prompt_variant": prompt_variant,
            "templates": str(templates) if templates else None, "describe_items": describe_items or None,
            "prices": str(prices) if prices else None,
        },
    )
    for warning in request.entry.warnings:
        console.print(f"[yellow]warning: {warning}[/yellow]", soft_wrap=True)
    if dry_run:
        _dry_run(request)
        return
    from ..errors import ModelError
    from ..report.progress import RunProgress
    from ..report.run_text import nothing_answered_line, stats_text, summary_lines
    from ..run.summary import nothing_answered, outcomes

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
    for line in summary_lines(outcomes(summaries)):
        console.print(line, soft_wrap=True)
    if interrupted:
        console.print("[yellow]interrupted: answers so far are saved; run the same command to resume[/yellow]")
        sys.exit(130)  # typer.Exit would be swallowed by main()'s standalone_mode=False
    if nothing_answered(summaries):
        console.print(nothing_answered_line(), soft_wrap=True)
        sys.exit(ModelError.exit_code)


def _dry_run(request: RunRequest) -> None:
    from ..bench import Benchmark
    from ..models.llm.cache import ResponseCache, default_cache_path
    from ..models.llm.estimate import estimate_run
    from ..models.llm.pricing import PRICES_AS_OF
    from ..models.llm.recommender import LLMRecommender
    from ..report.run_text import estimate_lines
    from ..tasks import questions_for

    bench = Benchmark(request.bench)
    if not request.entry.llm:
        request.entry.create(request.model_options())  # options are still checked
        console.print(f"dry run: {request.model} makes no model calls")
        return
    options = request.model_options()
    for method in request.methods:
        rec = request.entry.create(options)
        assert isinstance(rec, LLMRecommender)  # entry.llm above
        path = Path(options.get("cache_path") or default_cache_path())
        cache = ResponseCache(path) if options.get("cache", True) and path.exists() else None
        try:
            # Components memoised by earlier runs are read (and the ones made now kept for later)
            rec.load(bench, request.split, cache)
            questions = questions_for(bench, method, request.split, request.levels, request.limit, request.pairs,
                                      request.rating_seed)
            est = estimate_run(rec, bench, method, request.split, cache=cache, questions=questions)
        finally:
            if cache is not None:
                cache.close()
        for line in estimate_lines(est, PRICES_AS_OF):
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
