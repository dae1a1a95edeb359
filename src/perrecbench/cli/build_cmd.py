"""`perrecbench build`: raw data -> benchmark directory."""

from __future__ import annotations

import math
import time
from pathlib import Path

import typer

from ..errors import ConfigError
from ..interop.benchmark_source import RELEASE, SOURCES, check_source
from ..terminal.progress import console, stage_progress
from .bounds import positive
from .lock_option import WAIT


def _parse_gaps(text: str) -> dict[str, float]:
    """'1.0,0.75,0.5' or 'easy=1,medium=0.75,hard=0.5'."""
    from ..builder.params import DEFAULT_MIN_GAP
    from ..parsing import parse_key_values

    parts = [p.strip() for p in text.split(",") if p.strip()]
    gaps: dict[str, float] | None = None
    try:
        if all("=" in p for p in parts):
            gaps = dict(DEFAULT_MIN_GAP)
            gaps.update(parse_key_values(parts, "--min-gap", float, expects="level=gap", underscores=False))
        elif len(parts) == 1:
            gaps = {lv: float(parts[0]) for lv in DEFAULT_MIN_GAP}
        elif len(parts) == 3:
            gaps = dict(zip(DEFAULT_MIN_GAP, map(float, parts)))
    except ValueError as exc:
        raise ConfigError(f"--min-gap: {exc}") from exc
    if gaps is None:
        raise ConfigError("--min-gap takes one number, three numbers (easy,medium,hard) or level=gap pairs")
    bad = {lv: g for lv, g in gaps.items() if not math.isfinite(g)}
    if bad:
        raise ConfigError(f"--min-gap: not a finite number: {', '.join(f'{lv}={g}' for lv, g in bad.items())}")
    return gaps


def build(
    source: str = typer.Option("synthetic", help=f"one of {', '.join(SOURCES)}"),
    input: list[Path] = typer.Option([], "--input", "-i", help="review file(s) or folder (repeatable)"),
    meta: list[Path] = typer.Option([], "--meta", help="item metadata file(s) (repeatable)"),
    out: Path = typer.Option(..., "--out", "-o", help="benchmark directory to write"),
    seed: int = typer.Option(0, min=0, help="seed for grouping, member order and splits"),
    min_history: int = typer.Option(16, min=0, help="earlier reviews a user needs"),
    window_days: float = typer.Option(365.0, callback=positive, help="members' review times fit in one window"),
    min_gap: str = typer.Option("1.0,0.75,0.5", help="min relative-rating gap easy,medium,hard"),
    n_items: int = typer.Option(200, min=0, help="test items per level"),
    n_heldout: int = typer.Option(100, min=0, help="held-out (few-shot pool) items per level"),
    max_train: int | None = typer.Option(None, min=0, help="cap on train items per level"),
    user_mean: str = typer.Option("history", help="history (leak-free) or all (as released)"),
    levels: str = typer.Option("easy,medium,hard", help="levels to build"),
    memory_limit: str = typer.Option(
        "2GB", help="memory bound for the whole build (DuckDB gets most of it and spills beyond)"),
    temp_dir: Path | None = typer.Option(
        None, "--temp-dir", help="where DuckDB spills (default: inside OUT.building, removed after)"),
    workers: int | None = typer.Option(None, min=1,
                                       help="processes for the Python stages (default: cores, at most 4)"),
    option: list[str] = typer.Option([], "--option", help="source option key=value (repeatable)"),
    hub_category: list[str] = typer.Option(
        [], "--hub-category", help="amazon2023: download this category from the Hugging Face hub"),
    progress: bool = typer.Option(True, help="show progress"),
    wait: bool = WAIT,
) -> None:
    """Build a benchmark (SPEC 2.3) from real or synthetic reviews."""
    from ..builder.memory import human
    from ..builder.params import BuildParams
    from ..builder.pipeline import build_from_source
    from ..interop.benchmark_source import import_release_input
    from ..parsing import json_or_text, parse_key_values, parse_levels

    check_source(source)
    level_list = tuple(parse_levels(levels) or ())
    start = time.monotonic()
    if source == RELEASE:
        rep = import_release_input(list(input), out)
        console.print(f"[green]imported[/green] the authors' release into {out}")
        for line in rep.summary():
            console.print(line, markup=False, highlight=False)
        return
    params = BuildParams(
        seed=seed, min_history=min_history, window_days=window_days, min_gap=_parse_gaps(min_gap),
        n_items=n_items, n_heldout=n_heldout, max_train=max_train, user_mean=user_mean,
        levels=level_list,
    )
    with stage_progress(progress) as cb:
        result = build_from_source(
            source, list(input), list(meta), out, params,
            dict(parse_key_values(option, "--option", json_or_text, underscores=False)), list(hub_category),
            memory_limit=memory_limit, temp_dir=temp_dir, workers=workers, progress=cb,
            on_loaded=lambda report: console.print(report.summary()),
        )
    elapsed = time.monotonic() - start
    counts = result.manifest.counts.questions
    summary = ", ".join(
        f"{split}: " + "/".join(str(counts[split].get(lv, 0)) for lv in level_list)
        for split in ("test", "heldout", "train")
    )
    console.print(f"[green]built[/green] {out} in {elapsed:.1f}s — questions per level ({'/'.join(level_list)}): {summary}")
    if result.spilled_bytes:
        console.print(f"DuckDB spilled up to {human(result.spilled_bytes)} to disk "
                      f"(its share of --memory-limit {memory_limit}: {human(result.duckdb_memory_limit or 0)})")
    short = [lv for lv in level_list if counts["test"].get(lv, 0) < n_items]
    if short:
        console.print(f"[yellow]warning[/yellow]: fewer than {n_items} test items for {', '.join(short)}; "
                      "the data is too sparse for these thresholds (see manifest.json counts)")


def register(app: typer.Typer) -> None:
    app.command("build")(build)
