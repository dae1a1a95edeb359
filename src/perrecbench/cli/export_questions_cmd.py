"""`export-questions`: the questions of a split, with what a model may look at, as JSON lines."""

from __future__ import annotations

from pathlib import Path

import typer

from .lock_option import WAIT


def export_questions_cmd(
    bench: Path = typer.Option(..., "--bench", "-b", help="benchmark directory"),
    out: Path = typer.Option(..., "--out", "-o", help="JSON lines file to write (replaced)"),
    split: str = typer.Option("test", help="test, heldout or train"),
    levels: str | None = typer.Option(None, help="comma-separated levels (default: all in the benchmark)"),
    method: str | None = typer.Option(None, "--method", help="rating: the rating task's (user, item) pairs, "
                                      "sampled as `run --method rating` does (default: the ranking questions)"),
    pairs: str = typer.Option("400", "--pairs", help="rating: pairs to export; a number or all"),
    pairs_seed: int = typer.Option(0, "--pairs-seed", min=0, help="rating: seed of the pair sample"),
    max_history: int | None = typer.Option(None, "--max-history",
                                           help="keep each member's latest N earlier reviews (default: all)"),
    wait: bool = WAIT,
) -> None:
    """Write one JSON line per question with exactly what a model may look at: the query
    item, and per member the time of their review, average and most common rating and
    the reviews before it -- never their rating of the item (docs/extending.md)."""
    from ..bench import Benchmark
    from ..interop.questions_export import export_questions
    from ..run.plan import parse_levels, parse_pairs

    summary = export_questions(Benchmark(bench), out, split=split, levels=parse_levels(levels), method=method,
                               pairs=parse_pairs(pairs), pairs_seed=pairs_seed, max_history=max_history)
    per_level = ", ".join(f"{lv}: {n}" for lv, n in summary.questions.items())
    typer.echo(f"wrote {summary.total} {split} questions to {summary.path} ({per_level})")


def register(app: typer.Typer) -> None:
    app.command("export-questions")(export_questions_cmd)
