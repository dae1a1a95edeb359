"""User profiles per (user, query time), built only from reviews before that time.

Stored as BENCH_DIR/profiles/<label>.json = {"<user_id>@<timestamp>": text} (the key
format `lookup_profile` understands). LLM generation appends each profile to
<label>.partial.jsonl as soon as it arrives, so an interrupted run keeps its work; the
journal is folded into the JSON file at the end, and a rerun only asks for what is missing.

* `offline` profiles are deterministic statistics of the history (no model needed).
* LLM profiles use a caller-supplied `generate(messages) -> str` coroutine, with our own
  prompt, or the release's `template_profile/gen_profile.txt` when a templates dir is
  given (its input format is not published; we fill it with the history entries in the
  release's entry format, oldest first, separated by blank lines).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..bench import Benchmark, Context
from ..errors import BenchmarkError, ConfigError, PerRecBenchError
from ..locking import locked
from ..types import Review
from .components import HistoryEntry, Message
from .retrieval import entry_text

PROFILE_DIR = "profiles"
OFFLINE = "offline"
Generate = Callable[[list[Message]], Awaitable[str]]

_SYSTEM = "You write short, factual portraits of shoppers' tastes from their rating history."
_ASK = (
    "Describe this person in one or two short paragraphs of plain prose: what they tend "
    "to like and dislike, which kinds of products, genres or authors they come back to, "
    "and how generous their ratings usually are. No lists, headings or other formatting."
)


def profile_key(user_id: str, timestamp: int) -> str:
    return f"{user_id}@{timestamp}"


def profile_path(bench: Benchmark, label: str) -> Path:
    if not re.fullmatch(r"[\w.-]+", label):
        raise ConfigError(f"profile label {label!r}: use letters, digits, '.', '-', '_'")
    return bench.path / PROFILE_DIR / f"{label}.json"


def members(bench: Benchmark, split: str = "test", levels: Iterable[str] | None = None) -> list[tuple[str, int]]:
    """Distinct (user_id, query timestamp) of every member of the chosen questions."""
    seen: dict[tuple[str, int], None] = {}
    for level in levels or bench.available(split):
        for q in bench.questions(split, level):
            for m in q.users:
                seen[(m.user_id, m.timestamp)] = None
    return list(seen)


# ---------------------------------------------------------------------------- offline

def offline_profile(history: list[Review], context: Context, top: int = 3) -> str:
    """Statistics of a history as a short deterministic text."""
    if not history:
        return "Offline profile: no earlier ratings."
    ratings = [r.rating for r in history]
    counts = Counter(ratings)
    most_common = max(counts, key=lambda r: (counts[r], r))
    items = [(r, context.item(r.item_id)) for r in history]
    parts = [
        f"Offline profile from {len(history)} earlier ratings: average {sum(ratings) / len(ratings):.1f}, "
        f"most common {most_common:.1f}."
    ]
    for name, values in (
        ("categories", [it.category for _, it in items if it.category]),
        ("authors", [it.author for _, it in items if it.author]),
    ):
        if values:
            c = Counter(values)
            best = sorted(c, key=lambda v: (-c[v], v))[:top]
            parts.append(f"Most rated {name}: " + ", ".join(f"{v} ({c[v]})" for v in best) + ".")
    ranked = sorted(items, key=lambda p: (-p[0].rating, p[1].title))
    parts.append("Highest rated: " + _titles(ranked[:top]) + ".")
    parts.append("Lowest rated: " + _titles(sorted(items, key=lambda p: (p[0].rating, p[1].title))[:top]) + ".")
    return " ".join(parts)


def _titles(pairs) -> str:
    return ", ".join(f'"{it.title}" ({r.rating:.1f})' for r, it in pairs)


def offline_profiles(bench: Benchmark, split: str = "test", levels: Iterable[str] | None = None) -> dict[str, str]:
    ctx = bench.context
    return {
        profile_key(u, ts): offline_profile(ctx.history(u, before=ts), ctx)
        for u, ts in members(bench, split, levels)
    }


# ---------------------------------------------------------------------------- storage

@locked(lambda args: profile_path(args["bench"], args["label"]))
def save_profiles(bench: Benchmark, label: str, profiles: dict[str, str]) -> Path:
    """Write (replace) profiles/<label>.json atomically."""
    path = profile_path(bench, label)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(profiles, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _journal(path: Path) -> Path:
    return path.with_name(path.stem + ".partial.jsonl")


def load_profiles(bench: Benchmark, label: str) -> dict[str, str]:
    """Profiles of `label` ("<user_id>@<timestamp>" -> text), journal of an unfinished run included."""
    path = profile_path(bench, label)
    journal = _journal(path)
    if not path.exists() and not journal.exists():
        have = sorted(p.stem for p in (bench.path / PROFILE_DIR).glob("*.json"))
        raise BenchmarkError(
            f"{bench.path} has no profiles labelled {label!r} (available: {have or 'none'}); "
            "create them with `perrecbench profiles`"
        )
    out: dict[str, str] = {}
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise BenchmarkError(f"{path} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise BenchmarkError(f"{path}: expected an object of profiles")
        out.update({str(k): str(v) for k, v in data.items()})
    if journal.exists():
        for line in journal.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
                out[str(rec["key"])] = str(rec["profile"])
            except (ValueError, KeyError, TypeError):
                continue  # a line cut by an interruption: that profile is asked again
    return out


# ---------------------------------------------------------------------------- LLM

def profile_messages(history: list[Review], context: Context, template: str | None = None) -> list[Message]:
    entries = []
    for r in history:
        it = context.item(r.item_id)
        entries.append(HistoryEntry(it.title, it.author or None, r.rating))
    if template is not None:
        return [Message("user", template.format("\n\n".join(entry_text(e) for e in entries)))]
    lines = [f'- "{e.title}"' + (f" by {e.author}" if e.author else "") + f": {e.rating:.1f}" for e in entries]
    text = "Ratings of one person, oldest first (1 = disliked, 5 = loved):\n" + "\n".join(lines)
    return [Message("system", _SYSTEM), Message("user", f"{text}\n\n{_ASK}")]


@dataclass
class ProfileReport:
    label: str
    path: Path
    reused: int = 0
    generated: int = 0
    no_history: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)  # first few, for the user


@locked(lambda args: profile_path(args["bench"], args["label"]))  # one writer per label
async def generate_profiles(
    bench: Benchmark,
    generate: Generate,
    label: str,
    split: str = "test",
    levels: Iterable[str] | None = None,
    max_concurrency: int = 4,
    templates_dir: Path | str | None = None,
    max_history: int = 50,
) -> ProfileReport:
    """Ask `generate` for every missing profile (at most `max_history` latest earlier reviews)."""
    template = None
    if templates_dir is not None:
        from .official_set import PROFILE_FILE, read_template

        template = read_template(Path(templates_dir) / PROFILE_FILE, 1)
    path = profile_path(bench, label)
    path.parent.mkdir(parents=True, exist_ok=True)
    done = load_profiles(bench, label) if path.exists() or _journal(path).exists() else {}
    report = ProfileReport(label, path)
    ctx = bench.context
    todo = []
    for u, ts in members(bench, split, levels):
        key = profile_key(u, ts)
        if key in done:
            report.reused += 1
        elif not (history := ctx.history(u, before=ts)):
            report.no_history += 1
        else:
            todo.append((key, history[-max_history:]))
    sem = asyncio.Semaphore(max(1, max_concurrency))
    with open(_journal(path), "a", encoding="utf-8") as journal:

        async def one(key: str, history: list[Review]) -> None:
            async with sem:
                try:
                    text = await generate(profile_messages(history, ctx, template))
                except PerRecBenchError:
                    raise
                except Exception as exc:  # one failed call must not lose the others
                    report.failed += 1
                    if len(report.errors) < 5:
                        report.errors.append(f"{key}: {type(exc).__name__}: {exc}")
                    return
            if not text or not text.strip():
                report.failed += 1
                if len(report.errors) < 5:
                    report.errors.append(f"{key}: empty profile")
                return
            journal.write(json.dumps({"key": key, "profile": text.strip()}, ensure_ascii=False) + "\n")
            journal.flush()
            report.generated += 1

        tasks = [asyncio.ensure_future(one(k, h)) for k, h in todo]
        try:
            await asyncio.gather(*tasks)
        finally:  # stop the rest on error or Ctrl-C; keep what arrived
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            journal.flush()
            save_profiles(bench, label, load_profiles(bench, label))
    _journal(path).unlink(missing_ok=True)
    return report
