"""`perrecbench report`: run directories -> one static page with figures (needs the `report` extra)."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import ConfigError


def report(
    run_dirs: list[Path] = typer.Argument(..., help="Run directories (or folders of runs)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write index.html, figures/ and JSON into."),
    metric: str = typer.Option("tau-b", "--metric", help="tau-b (default, failed=0) or official-v1."),
    reference: bool = typer.Option(
        False, "--reference/--no-reference", help="Add the paper's 19 published rows."
    ),
    bench: Path | None = typer.Option(None, "--bench", help="Benchmark directory override."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap / permutation generator."),
    resamples: int = typer.Option(1000, "--resamples", help="Bootstrap resamples (and Monte Carlo permutations)."),
    title: str = typer.Option("PerRecBench report", "--title", help="The page's title."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress on stderr."),
) -> None:
    """A page a researcher would rather look at than read: leaderboard with intervals and
    heatmap, methods compared with paired tests, failures and cost, the published table.
    Its numbers are those of `perrecbench score --format json` for the same options."""
    import importlib.util

    from ..report.progress import stage_progress
    from ..score.metric_table import TAU_METRICS

    if metric not in TAU_METRICS:
        raise ConfigError(f"--metric must be one of {', '.join(TAU_METRICS)}, got {metric!r}")
    if resamples < 1:
        raise ConfigError("--resamples must be at least 1")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a directory")
    if importlib.util.find_spec("matplotlib") is None:  # before any work is done
        raise ConfigError("perrecbench report draws its figures with matplotlib: pip install 'perrecbench[report]'")
    from ..report.collect import collect_sections, load_inputs
    from ..report.writer import write_report

    with stage_progress(progress) as step:
        inputs = load_inputs(run_dirs, metric, bench, seed, resamples, reference, step)
        for run in inputs.runs:
            for w in run.warnings:
                typer.secho(f"warning: {w}", fg="yellow", err=True)
        sections = collect_sections(inputs, step)
        files = write_report(out, inputs, sections, title, step)
    typer.echo(f"wrote {files.index} ({len(sections)} sections, {len(files.figures) // 3} figures "
               f"as SVG, PNG and PDF in {files.index.parent / 'figures'})")


def register(app: typer.Typer) -> None:
    """Add `report`."""
    app.command("report")(report)
