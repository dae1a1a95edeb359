"""`perrecbench score` and `perrecbench leaderboard`: run directories -> tables."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..errors import ConfigError

FORMATS = ("table", "json", "csv", "markdown")


def _check(value: str, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        raise ConfigError(f"{option} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _warn(runs: list) -> None:
    for run in runs:
        for w in run.warnings:
            typer.secho(f"warning: {w}", fg="yellow", err=True)


def _sides(r) -> tuple[str, str]:
    """How the table names A and B: label and method, and the run directory when that
    alone would name both sides alike."""
    a, b = f"{r.label_a or r.model_a} ({r.method_a})", f"{r.label_b or r.model_b} ({r.method_b})"
    return (f"{a} {r.run_a}", f"{b} {r.run_b}") if a == b else (a, b)


def _comparison_text(rows: list, fmt: str) -> str:
    if fmt == "json":
        return json.dumps([r.to_dict() for r in rows], indent=2)
    header = ["level", "metric", "A", "B", "score A", "score B", "A - B", "95% CI", "p", "n"]
    lines = []
    for r in rows:
        lines.append([
            r.level, r.metric, *_sides(r),
            f"{r.score_a:.3f}", f"{r.score_b:.3f}", f"{r.diff:+.3f}",
            f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]", f"{r.p_value:.4f}{'' if r.exact_p else ' (MC)'}", str(r.n),
        ])  # fmt: skip
    if fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        w.writerows(lines)
        return buf.getvalue()
    if fmt == "markdown":
        out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        return "\n".join(out + ["| " + " | ".join(line) + " |" for line in lines]) + "\n"
    from rich.table import Table

    from ..report.leaderboard import render_text

    table = Table(title="Paired comparison (sign-flip permutation test; bootstrap CI)")
    for h in header:
        table.add_column(h)
    for line in lines:
        table.add_row(*line)
    return render_text(table, 180)


def score(
    run_dirs: list[Path] = typer.Argument(..., help="Run directories to score."),
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
    from ..report import leaderboard as lb
    from ..report.reference import load_reference
    from ..score.compare import compare_runs
    from ..score.metric_table import TAU_METRICS
    from ..score.runs import load_runs
    from ..score.scoring import score_runs

    _check(metric, TAU_METRICS, "--metric")
    _check(fmt, FORMATS, "--format")
    if resamples < 1:
        raise ConfigError("--resamples must be at least 1")
    runs = load_runs(run_dirs, bench, one_per_cell=not compare)  # --compare: the two runs as given
    _warn(runs)
    if compare:
        if len(runs) != 2:
            raise ConfigError(f"--compare needs exactly two run directories, got {len(runs)}")
        pairs = compare_runs(runs[0], runs[1], metric, n_resamples=resamples, seed=seed)
        typer.echo(_comparison_text(pairs, fmt), nl=False)
        return
    rows = score_runs(runs, metric, n_resamples=resamples, seed=seed)
    if fmt == "json":
        typer.echo(json.dumps([r.to_dict() for r in rows], indent=2))
        return
    if fmt == "csv":
        typer.echo(lb.detail_csv(rows), nl=False)
        return
    text = lb.detail_markdown(rows) if fmt == "markdown" else lb.render_detail(rows)
    typer.echo(text, nl=False)
    if reference:
        board = lb.build_leaderboard(rows, metric, load_reference())
        typer.echo("")
        typer.echo(lb.to_markdown(board) if fmt == "markdown" else lb.render_table(board), nl=False)


def leaderboard(
    run_dirs: list[Path] = typer.Argument(..., help="Run directories (one per model x method)."),
    metric: str = typer.Option("tau-b", "--metric", help="tau-b (default), official-v1 or official-v2."),
    fmt: str = typer.Option("table", "--format", help="table, markdown or csv."),
    bench: Path | None = typer.Option(None, "--bench", help="Benchmark directory override."),
    reference: bool = typer.Option(
        False, "--reference/--no-reference", help="Add the published rows, marked as published."
    ),
) -> None:
    """The paper's table for your runs: easy/medium/hard x point/pair/list, plus Avg."""
    from ..report import leaderboard as lb
    from ..report.reference import load_reference
    from ..score.metric_table import TAU_METRICS
    from ..score.runs import load_runs
    from ..score.scoring import score_runs

    _check(metric, TAU_METRICS, "--metric")
    _check(fmt, ("table", "markdown", "csv"), "--format")
    runs = load_runs(run_dirs, bench, one_per_cell=True)
    _warn(runs)
    rows = score_runs(runs, metric, n_resamples=0, extra=False)  # the table shows no CI
    board = lb.build_leaderboard(rows, metric, load_reference() if reference else None)
    render = {"table": lb.render_table, "markdown": lb.to_markdown, "csv": lb.to_csv}[fmt]
    typer.echo(render(board), nl=False)


def register(app: typer.Typer) -> None:
    """Add `score` and `leaderboard`."""
    app.command("score")(score)
    app.command("leaderboard")(leaderboard)
