"""`render`, `show`, `profiles`: look at model input, and build user profiles."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import typer

from ..constants import METHODS, SPLITS
from ..errors import ConfigError
from ..locking import output_lock
from ..prompts.components import Message, PromptOptions
from ..redaction import redact
from .lock_option import WAIT

PROMPT_SETS = ("default, official (needs --templates), official-sample-run, or a rating family (point only; "
               "needs --templates): rating-wang, rating-liu, rating-dai, rating-bookgpt")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("render")(render)
    app.command("show")(show)
    app.command("profiles")(profiles)


# ---------------------------------------------------------------------------- render

def render(
    method: str = typer.Option(..., "--method", help="point, pair or list"),
    components: str = typer.Option(
        ..., "--components", help='Components JSON file, or JSON Lines (one object per line); "-" = stdin'
    ),
    prompt_set: str = typer.Option("default", "--prompt-set", help=PROMPT_SETS),
    prompt_variant: int | None = typer.Option(None, "--prompt-variant", min=0, max=3,
                                              help="rating families: variant 0-3"),
    templates: Path | None = typer.Option(None, "--templates", help="the authors' code/ folder"),
    cot: bool = typer.Option(False, "--cot", help="reason first, answer on the last line"),
    rel_rating: bool = typer.Option(False, "--rel-rating", help="history ratings are relative"),
    no_profile: bool = typer.Option(False, "--no-profile", help="leave out profile and rating statistics"),
) -> None:
    """Print the chat messages for Components: a JSON list of {role, content}.

    JSON Lines input gives JSON Lines output, one message list per input line, in order.
    """
    _check_method(method)
    from ..prompts.components_io import load_components
    from ..prompts.registry import get_prompt_set

    pset = get_prompt_set(prompt_set, templates, prompt_variant)
    items, is_lines = load_components(components)
    options = PromptOptions(cot=cot, rel_rating=rel_rating, use_profile=not no_profile)
    for comps in items:
        msgs = _as_dicts(pset.render(method, comps, options))
        typer.echo(json.dumps(msgs, ensure_ascii=False) if is_lines else json.dumps(msgs, indent=2, ensure_ascii=False))


def _as_dicts(msgs: list[Message]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in msgs]


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")


# ---------------------------------------------------------------------------- show

def show(
    bench: Path = typer.Option(..., "--bench", help="benchmark directory"),
    qid: str = typer.Option(..., "--id", help="question id"),
    method: str = typer.Option("list", "--method", help="point, pair or list"),
    k: int = typer.Option(4, "--k", min=0, help="history items per user (BM25 top-k)"),
    prompt_set: str = typer.Option("default", "--prompt-set", help=PROMPT_SETS),
    templates: Path | None = typer.Option(None, "--templates", help="the authors' code/ folder"),
    profiles_label: str | None = typer.Option(None, "--profiles", help="profile label under BENCH/profiles"),
    cot: bool = typer.Option(False, "--cot"),
    rel_rating: bool = typer.Option(False, "--rel-rating"),
    no_profile: bool = typer.Option(False, "--no-profile"),
) -> None:
    """Show a question (members, truth) and the prompt a model would get for it.

    Pointwise shows one prompt per member; pairwise the first pair (User1 as A, User2
    as B; runs ask each compared pair in both orders). The official set shows the
    profile block only with --profiles.
    """
    _check_method(method)
    from ..bench import Benchmark
    from ..prompts.profiles import load_profiles
    from ..prompts.registry import get_prompt_set
    from ..prompts.retrieval import components_for

    b = Benchmark(bench)
    pset = get_prompt_set(prompt_set, templates)
    q = b.question(qid)
    ctx = b.context
    item = ctx.item(q.item_id)
    profs = load_profiles(b, profiles_label) if profiles_label else None
    use_profile = not no_profile and (profs is not None or prompt_set == "default")
    typer.echo(f"question {q.id}  ({q.split}, {q.level}, {q.n} users)")
    typer.echo(f"item     {q.item_id}: {item.title}" + (f" by {item.author}" if item.author else ""))
    typer.echo(f"{'':4}{'user_id':<24}{'rating':>7}{'average':>9}{'relative':>10}{'history':>9}")
    for i, m in enumerate(q.users, 1):
        typer.echo(f"User{i:<2}{m.user_id:<24}{m.rating:>7.1f}{m.avg_rating:>9.2f}{m.relative_rating:>+10.2f}{m.history_len:>9}")
    typer.echo("truth    " + " > ".join(f"User{i + 1}" for i in q.true_order()))
    calls = {"point": [[i] for i in range(q.n)], "pair": [[0, 1]], "list": [list(range(q.n))]}[method]
    options = PromptOptions(cot=cot, rel_rating=rel_rating, use_profile=use_profile)
    for users in calls:
        comps = components_for(q, ctx, users, k, profs, rel_rating)
        typer.echo("\n" + "=" * 30 + f" {method} prompt: " + ", ".join(f"User{i + 1}" for i in users) + " " + "=" * 30)
        for msg in pset.render(method, comps, options):
            typer.echo(f"--- {msg.role} ---\n{msg.content}")


# ---------------------------------------------------------------------------- profiles

def profiles(
    bench: Path = typer.Option(..., "--bench", help="benchmark directory"),
    model: str | None = typer.Option(None, "--model", help="openai/<model>, anthropic/<model> or "
                                     "hf/<path or hub id>"),
    offline: bool = typer.Option(False, "--offline", help="statistics of the history, no model"),
    split: str = typer.Option("test", "--split", help=", ".join(SPLITS)),
    levels: str | None = typer.Option(None, "--levels", help="comma-separated; default: all present"),
    label: str | None = typer.Option(None, "--label", help="file name under BENCH/profiles (default from model)"),
    templates: Path | None = typer.Option(None, "--templates", help="use the release's profile prompt"),
    max_concurrency: int = typer.Option(4, "--max-concurrency", min=1, help="requests at once"),
    max_history: int = typer.Option(50, "--max-history", min=1, help="latest earlier reviews shown to the model"),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible server (vLLM, llama.cpp)"),
    wait: bool = WAIT,
) -> None:
    """Build user profiles for every member of the chosen questions (cached; reruns resume)."""
    from ..bench import Benchmark
    from ..parsing import parse_levels
    from ..prompts import profiles as prof

    b = Benchmark(bench)
    lvls = parse_levels(levels)
    if offline == (model is not None):
        raise ConfigError("give either --offline or --model MODEL")
    if offline:
        label = label or prof.OFFLINE
        path = prof.profile_path(b, label)
        with output_lock(path):
            made = prof.offline_profiles(b, split, lvls)
            old = prof.load_profiles(b, label) if path.exists() else {}
            prof.save_profiles(b, label, {**old, **made})
        typer.echo(f"{len(made)} offline profiles -> {path}")
        return
    assert model is not None  # checked above: --offline or --model
    label = label or re.sub(r"[^\w.-]+", "--", model)
    from ..models.llm.text import text_generator

    generate, close = text_generator(model, base_url)

    async def run() -> prof.ProfileReport:
        try:
            return await prof.generate_profiles(
                b, generate, label, split, lvls, max_concurrency, templates, max_history
            )
        finally:
            await close()

    report = asyncio.run(run())
    typer.echo(
        f"profiles {label}: {report.generated} new, {report.reused} cached, "
        f"{report.no_history} without history, {report.failed} failed -> {report.path}"
    )
    for err in report.errors:
        typer.secho(f"  {redact(err)}", fg="yellow", err=True)
    if report.failed:
        typer.secho("run the same command again to retry the failed ones", fg="yellow", err=True)
