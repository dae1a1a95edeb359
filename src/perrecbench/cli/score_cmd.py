"""`perrecbench score` and `perrecbench leaderboard`: run directories -> tables."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import ConfigError
from .echo import warn_runs


def _check(value: str, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        raise ConfigError(f"{option} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def score(
    run_dirs: list[Path] = typer.Argument(..., metavar="RUN_DIR", help="Run directories to score."),
    metric: str = typer.Option(
        "tau-b", "--metric", help="tau-b (default, failed=0), official-v1 (released evaluator) or official-v2 (its correction)."
    ),
    fmt: str = typer.Option("table", "--format", help="table, json, csv or markdown."),
    bench: Path | None = typer.Option(
        None, "--bench", help="Benchmark directory (default: the one in each run's manifest)."
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of the bootstrap / permutation generator."),
    resamples: int = typer.Option(
        1000, "--resamples", help="Bootstrap resamples (and Monte Carlo permutations)."
    ),
    reference: bool = typer.Option(
        False,
        "--reference/--no-reference",
        help="Also print the leaderboard beside the published table.",
    ),
    compare: bool = typer.Option(
        False, "--compare", help="Paired comparison of exactly two runs, per level."
    ),
) -> None:
    """Score runs: Kendall tau per level with 95% bootstrap CI, failures counted, extra metrics."""
    from ..report.leaderboard import build_leaderboard
    from ..report.reference import load_reference
    from ..score.compare import compare_runs
    from ..score.metric_table import TAU_METRICS
    from ..score.runs import load_runs
    from ..score.scoring import score_runs
    from ..terminal.results import ComparisonResult, ScoreResult

    _check(metric, TAU_METRICS, "--metric")
    ScoreResult.check_format(fmt)
    if resamples < 1:
        raise ConfigError("--resamples must be at least 1")
    runs = load_runs(run_dirs, bench, one_per_cell=not compare)  # --compare: the two runs as given
    warn_runs(runs)
    if compare:
        if len(runs) != 2:
            raise ConfigError(f"--compare needs exactly two run directories, got {len(runs)}")
        pairs = compare_runs(runs[0], runs[1], metric, n_resamples=resamples, seed=seed)
        typer.echo(ComparisonResult(pairs).render(fmt), nl=False)
        return
    rows = score_runs(runs, metric, n_resamples=resamples, seed=seed)
    with_board = reference and fmt in ("table", "markdown")  # the rows alone in JSON and CSV
    board = build_leaderboard(rows, metric, load_reference()) if with_board else None
    typer.echo(ScoreResult(rows, board).render(fmt), nl=False)


def leaderboard(
    run_dirs: list[Path] = typer.Argument(..., metavar="RUN_DIR", help="Run directories (one per model x method)."),
    metric: str = typer.Option("tau-b", "--metric", help="tau-b (default), official-v1 or official-v2."),
    fmt: str = typer.Option("table", "--format", help="table, markdown or csv."),
    bench: Path | None = typer.Option(None, "--bench", help="Benchmark directory override."),
    reference: bool = typer.Option(
        False, "--reference/--no-reference", help="Add the published rows, marked as published."
    ),
) -> None:
    """The paper's table for your runs: easy/medium/hard x point/pair/list, plus Avg."""
    from ..report.leaderboard import build_leaderboard
    from ..report.reference import load_reference
    from ..score.metric_table import TAU_METRICS
    from ..score.runs import load_runs
    from ..score.scoring import score_runs
    from ..terminal.results import LeaderboardResult

    _check(metric, TAU_METRICS, "--metric")
    LeaderboardResult.check_format(fmt)
    runs = load_runs(run_dirs, bench, one_per_cell=True)
    warn_runs(runs)
    rows = score_runs(runs, metric, n_resamples=0, extra=False)  # the table shows no CI
    board = build_leaderboard(rows, metric, load_reference() if reference else None)
    typer.echo(LeaderboardResult(board).render(fmt), nl=False)


def register(app: typer.Typer) -> None:
    """Add `score` and `leaderboard`."""
    app.command("score")(score)
    app.command("leaderboard")(leaderboard)
