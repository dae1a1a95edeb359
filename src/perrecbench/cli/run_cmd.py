"""`perrecbench run` (any model: LLMs and baselines) and `perrecbench cache stats|clear`."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import typer

from .. import LEVELS, METHODS
from ..errors import ConfigError
from ..run.rundir import CALLS
from .entry import DEFAULT_MAX_CONCURRENCY
from .progress import console

_LLM_HELP = "LLM"


def _parse_failures() -> frozenset[str]:
    from ..prompts.parsing import FAILURES

    return frozenset(FAILURES)


def _transient(pred: Any) -> bool:
    """Worth asking again: the failure came from transport, not from the model's answer
    (asking again would replay the same cached reply)."""
    return pred.failure not in _parse_failures()


RETRY_POLICIES: dict[str, Any] = {"transient": _transient, "all": True, "none": False}
_DRY = "Dry run"


def _parse_levels(text: str | None) -> list[str] | None:
    if not text:
        return None
    out = [lv.strip() for lv in text.split(",") if lv.strip()]
    bad = [lv for lv in out if lv not in LEVELS]
    if bad:
        raise ConfigError(f"unknown level(s) {bad}; choose from {', '.join(LEVELS)}")
    return out


def _parse_pairs(pairs: list[str]) -> dict[str, Any]:
    """--option key=value; values are JSON when they parse (3, true, [..]), else strings."""
    out: dict[str, Any] = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option expects key=value, got {p!r}")
        try:
            out[key.strip().replace("-", "_")] = json.loads(value)
        except ValueError:
            out[key.strip().replace("-", "_")] = value
    return out


def _fmt_tokens(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e3 else str(n)


def _fmt_cost(cost: float | None) -> str:
    return "?" if cost is None else f"${cost:.4f}" if cost < 1 else f"${cost:.2f}"


def stats_text(stats: dict[str, Any]) -> str:
    """One short line of client statistics for the progress bar."""
    if not stats:
        return ""
    parts = [
        f"req {stats.get('requests', 0)}",
        f"cached {stats.get('cache_hits', 0)}",
        f"tok {_fmt_tokens(stats.get('prompt_tokens', 0))}/{_fmt_tokens(stats.get('completion_tokens', 0))}",
        _fmt_cost(stats.get("cost_usd")),
    ]
    if stats.get("retries"):
        parts.append(f"retries {stats['retries']}")
    failures = sum((stats.get("failures") or {}).values())
    if failures:
        parts.append(f"failed calls {failures}")
    return " · ".join(parts)


class _Progress:
    """Rich bar with ETA and live request/token/cost figures; plain lines when not a tty."""

    def __init__(self, enabled: bool, label: str):
        self.enabled = enabled
        self.label = label
        self.bar = None
        self.task = None
        self._last_plain = 0.0

    def __enter__(self) -> _Progress:
        if self.enabled and sys.stderr.isatty():
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                TextColumn("{task.fields[stats]}"), console=console, transient=False,
            )
            self.bar.__enter__()
            self.task = self.bar.add_task(self.label, total=None, stats="")
        return self

    def __call__(self, done: int, total: int, stats: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=max(total, 1), stats=stats_text(stats))
        elif self.enabled and (time.monotonic() - self._last_plain > 30 or done == total):
            self._last_plain = time.monotonic()
            console.print(f"{self.label}: {done}/{total} {stats_text(stats)}", soft_wrap=True)

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _outcome(run_dir: Path, method: str) -> tuple[int, int, Counter, str]:
    """Answers ok and failed, failure categories, and what answering cost (the figures
    `score` reports as calls/question and pair inconsistency)."""
    from ..run.rundir import RunDir
    from ..score.scorer import CALLS, INCONSISTENCY, cost_series

    ok, failed, cats = 0, 0, Counter()
    preds = [rec.prediction for rec in RunDir(run_dir).read_predictions()]
    for p in preds:
        if p.ok:
            ok += 1
        else:
            failed += 1
            cats[p.failure or "unknown"] += 1
    series = cost_series(preds, method)
    cost = []
    if series.get(CALLS):
        cost.append(f"{sum(series[CALLS]) / len(series[CALLS]):.1f} calls/question")
    if series.get(INCONSISTENCY):
        cost.append(f"{sum(series[INCONSISTENCY]) / len(series[INCONSISTENCY]):.1%} of pairs inconsistent")
    return ok, failed, cats, ", ".join(cost)


def _print_estimate(est: Any) -> None:
    console.print(f"[bold]dry run[/bold]: {est.model} · {est.method} · {est.questions} questions")
    for level, lv in est.per_level.items():
        console.print(
            f"  {level:<7} {lv['questions']:>5} questions  {lv['requests']:>7} requests  "
            f"~{_fmt_tokens(lv['prompt_tokens'])} prompt + ~{_fmt_tokens(lv['output_tokens'])} output tokens"
        )
    console.print(
        f"  total   {est.requests} requests ({est.cached} already cached), "
        f"~{_fmt_tokens(est.prompt_tokens)} prompt + ~{_fmt_tokens(est.output_tokens)} output tokens, "
        f"cost ~{_fmt_cost(est.cost_usd)}"
        + ("" if est.cost_usd is not None else " (no price known for this model; add one with --prices FILE)")
    )
    from ..models.llm.pricing import PRICES_AS_OF

    for note in est.notes + [f"prices as of {PRICES_AS_OF}"]:
        console.print(f"  [dim]{note}[/dim]")


def run(
    bench: Path = typer.Option(..., "--bench", "-b", help="benchmark directory"),
    model: str = typer.Option(..., "--model", "-m", help="baseline/<name>, openai/<model> or anthropic/<model>"),
    method: str = typer.Option(..., "--method", help="point, pair, list, several (point,pair,list) or all"),
    out: Path = typer.Option(..., "--out", "-o", help="run directory (resumed if it exists); with several "
                             "methods, OUT/<method> (or OUT with {method} replaced)"),
    levels: str | None = typer.Option(None, help="comma-separated levels (default: all in the benchmark)"),
    split: str = typer.Option("test", help="test, heldout or train"),
    limit: int | None = typer.Option(None, help="first N questions per level"),
    max_concurrency: int = typer.Option(DEFAULT_MAX_CONCURRENCY, help="requests (LLM) or questions (baselines) at once"),
    retry_failed: str = typer.Option(
        "transient", help="re-ask failed questions of an earlier run: transient (transport errors; "
        "answers that did not parse stay failed, their replies are cached), all (e.g. after a parser "
        "fix; replies come from the cache) or none"),
    option: list[str] = typer.Option([], "--option", help="model option key=value (repeatable)"),
    progress: bool = typer.Option(True, help="show progress"),
    dry_run: bool = typer.Option(False, "--dry-run", help="count requests, tokens and cost; call nothing",
                                 rich_help_panel=_DRY),
    prices: Path | None = typer.Option(None, help="JSON price file: model -> (input, output) USD per 1M tokens",
                                          rich_help_panel=_DRY),
    base_url: list[str] = typer.Option([], "--base-url", help="OpenAI-compatible server; repeat for replicas",
                                       rich_help_panel=_LLM_HELP),
    rpm: float | None = typer.Option(None, help="requests per minute cap", rich_help_panel=_LLM_HELP),
    tpm: float | None = typer.Option(None, help="tokens per minute cap", rich_help_panel=_LLM_HELP),
    temperature: float | None = typer.Option(None, help="default 0.1 (as released)", rich_help_panel=_LLM_HELP),
    top_p: float | None = typer.Option(None, help="default 1.0", rich_help_panel=_LLM_HELP),
    max_tokens: int | None = typer.Option(None, help="default 800, pair 512", rich_help_panel=_LLM_HELP),
    seed: int | None = typer.Option(None, help="request seed (sample i gets seed+i)", rich_help_panel=_LLM_HELP),
    samples: int | None = typer.Option(None, help="self-consistency samples (majority vote)",
                                          rich_help_panel=_LLM_HELP),
    stop: list[str] = typer.Option([], "--stop", help="stop sequence (repeatable)", rich_help_panel=_LLM_HELP),
    json_mode: str | None = typer.Option(None, help="off, object, schema (OpenAI/vLLM) or object-schema "
                                            "(llama.cpp)", rich_help_panel=_LLM_HELP),
    timeout: float | None = typer.Option(None, help="seconds per request (default 120)",
                                            rich_help_panel=_LLM_HELP),
    max_attempts: int | None = typer.Option(None, help="tries per request on 429/5xx/timeouts (default 6)",
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
    shots: int | None = typer.Option(None, help="few-shot demonstrations", rich_help_panel=_LLM_HELP),
    profile: str | None = typer.Option(None, help="none, offline or a profiles label", rich_help_panel=_LLM_HELP),
    k: int | None = typer.Option(None, "--k", help="history items per user (default 4)",
                                    rich_help_panel=_LLM_HELP),
    rel_rating: bool = typer.Option(False, "--rel-rating", help="show relative ratings",
                                    rich_help_panel=_LLM_HELP),
    prompt_set: str | None = typer.Option(None, help="default, official or official-sample-run",
                                             rich_help_panel=_LLM_HELP),
    templates: Path | None = typer.Option(None, help="the authors' template dir (official prompt sets)",
                                             rich_help_panel=_LLM_HELP),
    describe_items: bool = typer.Option(False, "--describe-items", help="include item descriptions",
                                        rich_help_panel=_LLM_HELP),
) -> None:
    """Run one model with one or more methods over a benchmark; resumable (rerun the same command).

    Several methods (`--method point,pair,list`) run in one process into OUT/<method>
    (or into OUT with `{method}` replaced), sharing the request slots, the cache and
    each question's prompt parts."""
    from ..bench import Benchmark
    from ..models.registry import create_model
    from ..run.runner import Job, run_jobs

    method_list = parse_methods(method)
    if retry_failed not in RETRY_POLICIES:
        raise ConfigError(f"--retry-failed {retry_failed!r}: choose from {', '.join(RETRY_POLICIES)}")
    outs = run_dirs_for(out, method_list)
    is_llm = not model.startswith("baseline/")
    flags: dict[str, Any] = {
        "base_url": list(base_url) or None, "rpm": rpm, "tpm": tpm, "temperature": temperature,
        "top_p": top_p, "max_tokens": max_tokens, "seed": seed, "samples": samples,
        "stop": list(stop) or None, "json_mode": json_mode, "timeout": timeout, "max_attempts": max_attempts,
        "cache": False if no_cache else None, "cache_path": str(cache_path) if cache_path else None,
        "log_prompts": log_prompts or None, "pair_strategy": pair_strategy, "cot": cot or None,
        "shots": shots, "profile": profile, "k": k, "rel_rating": rel_rating or None,
        "prompt_set": prompt_set, "templates": str(templates) if templates else None,
        "describe_items": describe_items or None, "prices": str(prices) if prices else None,
    }
    flags = {key: v for key, v in flags.items() if v is not None}
    options = _parse_pairs(option)
    if is_llm:
        options = {**options, **flags, "max_concurrency": max_concurrency}
        if "calls_log" not in options:  # one calls.jsonl per run directory
            per_method = out if "{method}" in str(out) else out / "{method}"
            options["calls_log"] = str((outs[0] if len(outs) == 1 else per_method) / CALLS)
    elif flags:
        names = ", ".join("--" + key.replace("_", "-") for key in flags)
        raise ConfigError(f"{names}: LLM option(s), not for {model}; baselines take --option key=value")
    b = Benchmark(bench)
    level_list = _parse_levels(levels)
    if dry_run:
        for m in method_list:
            _dry_run(model, options, b, m, split, level_list, limit, is_llm)
        return
    rec = create_model(model, options)
    check = getattr(rec, "check", None)
    if check is not None:
        check()  # a missing key or SDK stops here, before the run directory exists
    # an LLM is shared by the methods (one connection, cache and limiter); a baseline is
    # cheap to make, and one per method keeps its state (e.g. a random stream) per run
    jobs = [Job(rec if (is_llm or i == 0) else create_model(model, options), m, d)
            for i, (m, d) in enumerate(zip(method_list, outs))]
    # LLMs: keep more questions open than request slots, so slots never wait on prompt building
    questions_at_once = max_concurrency * 2 if is_llm else max_concurrency
    start = time.monotonic()
    with _Progress(progress, f"{model} {','.join(method_list)}") as bar:
        summaries = run_jobs(
            jobs, b, levels=level_list, split=split, max_concurrency=questions_at_once,
            limit=limit, retry_failed=RETRY_POLICIES[retry_failed], progress=bar,
        )
    stats = rec.stats() if hasattr(rec, "stats") else {}
    interrupted = any(s.interrupted for s in summaries)
    answered, failed_now, skipped = (sum(getattr(s, f) for s in summaries) for f in ("answered", "failed", "skipped"))
    console.print(
        f"{'interrupted' if interrupted else 'done'}: {answered} answered now "
        f"({failed_now} failed), {skipped} already done, "
        f"{time.monotonic() - start:.1f} s"
        + (f"; {stats_text(stats)}" if stats else ""),
        soft_wrap=True,
    )
    parse_failed = transport_failed = 0
    for s in summaries:
        ok, failed, cats, cost = _outcome(s.run_dir, s.method)
        by_cat = ", ".join(f"{c} {n}" for c, n in cats.most_common())
        console.print(f"{s.run_dir}: {ok} ok, {failed} failed" + (f" ({by_cat})" if by_cat else "")
                      + f" of {s.total} questions" + (f"; {cost}" if cost else ""), soft_wrap=True)
        pf = sum(n for c, n in cats.items() if c in _parse_failures())
        parse_failed += pf
        transport_failed += failed - pf
    if interrupted:
        console.print("[yellow]interrupted: answers so far are saved; run the same command to resume[/yellow]")
        sys.exit(130)  # typer.Exit would be swallowed by main()'s standalone_mode=False
    if transport_failed:
        console.print("[dim]questions that failed in transport are asked again when you rerun the same "
                      "command[/dim]", soft_wrap=True)
    if parse_failed:
        console.print(f"[dim]{parse_failed} answers did not parse; after a parser fix, rerun with "
                      "--retry-failed all (their replies come from the cache)[/dim]", soft_wrap=True)


def parse_methods(text: str) -> list[str]:
    """`point`, `point,list` or `all` -> methods in the given order, each once."""
    names = list(METHODS) if text.strip() == "all" else [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in names if m not in METHODS]
    if bad or not names:
        raise ConfigError(f"unknown --method {text!r}; choose from {', '.join(METHODS)} (comma-separated) or all")
    return list(dict.fromkeys(names))


def run_dirs_for(out: Path, methods: list[str]) -> list[Path]:
    """Where each method's run goes: OUT for one method; OUT/<method> for several,
    unless OUT contains `{method}`, which is replaced."""
    if "{method}" in str(out):
        return [Path(str(out).replace("{method}", m)) for m in methods]
    if len(methods) == 1:
        return [out]
    return [out / m for m in methods]


def _dry_run(model: str, options: dict[str, Any], bench: Any, method: str, split: str,
             levels: list[str] | None, limit: int | None, is_llm: bool) -> None:
    from ..models.registry import create_model

    rec = create_model(model, options)
    if not is_llm:
        console.print(f"dry run: {model} makes no model calls")
        return
    from ..models.llm.cache import ResponseCache, default_cache_path
    from ..models.llm.estimate import estimate_run

    rec.load(bench, split)
    path = Path(options.get("cache_path") or default_cache_path())
    cache = ResponseCache(path) if options.get("cache", True) and path.exists() else None
    rec.parts_cache = cache  # retrieved histories memoised by earlier runs (and kept for later ones)
    try:
        est = estimate_run(rec, bench, method, split, levels, limit, cache=cache)
    finally:
        if cache is not None:
            cache.close()
    _print_estimate(est)


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
    console.print(f"{st['path']}: {st['entries']} responses, {st['prompt_parts']} memoised question prompt parts, "
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
