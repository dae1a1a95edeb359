"""`perrecbench report`: run directories -> one static page with figures (needs the `report` extra)."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import ConfigError, install_hint
from ..locking import locked
from .lock_option import WAIT


@locked("out")  # before the runs are loaded and scored
def report(
    run_dirs: list[Path] = typer.Argument(None, metavar="RUN_DIR", help="Run directories (or folders of runs); a sweep "
                                          "directory (with sweep.json) is taken as --sweep."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write index.html, figures/ and JSON into."),
    metric: str = typer.Option("tau-b", "--metric", help="tau-b (default, failed=0), official-v1 or official-v2."),
    reference: bool = typer.Option(
        False, "--reference/--no-reference", help="Add the paper's 19 published rows."
    ),
    bench: Path | None = typer.Option(None, "--bench", help="Benchmark directory override."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of the bootstrap / permutation generator."),
    resamples: int = typer.Option(1000, "--resamples", help="Bootstrap resamples (and Monte Carlo permutations)."),
    sweep: list[Path] = typer.Option([], "--sweep", help="A sweep directory (perrecbench sweep --out): its "
                                     "table and plots (repeatable)."),
    breakdown: str = typer.Option("category,exposure", "--breakdown", help="Break the runs down by category, "
                                  "exposure, level and/or method (comma-separated), or none."),
    title: str = typer.Option("PerRecBench report", "--title", help="The page's title."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress on stderr."),
    wait: bool = WAIT,
) -> None:
    """A page a researcher would rather look at than read: leaderboard with intervals and
    heatmap, methods compared with paired tests, failures and cost, the published table;
    with rating runs the rating task and its correlation with preference, breakdowns, and
    given sweeps their tables and plots. Its numbers are those of `perrecbench score`,
    `correlate`, `breakdown` and the sweeps' tables for the same options."""
    import importlib.util

    from ..score.metric_table import TAU_METRICS
    from ..terminal.progress import stage_progress

    if metric not in TAU_METRICS:
        raise ConfigError(f"--metric must be one of {', '.join(TAU_METRICS)}, got {metric!r}")
    if resamples < 1:
        raise ConfigError("--resamples must be at least 1")
    if not run_dirs and not sweep:
        raise ConfigError("give run directories (or folders of runs) and/or --sweep DIR")
    from ..report.sections.breakdown import parse_breakdowns

    breakdowns = parse_breakdowns(breakdown)
    for s in sweep:
        if not (s / "sweep.json").is_file():
            raise ConfigError(f"--sweep {s}: not a sweep directory (no sweep.json)")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a directory")
    if importlib.util.find_spec("matplotlib") is None:  # before any work is done
        raise ConfigError(f"perrecbench report draws its figures with matplotlib: {install_hint('report')}")
    from ..report.collect import collect_sections, load_inputs
    from ..report.writer import write_report

    with stage_progress(progress) as step:
        inputs = load_inputs(run_dirs or [], metric, bench, seed, resamples, reference, step, sweep, breakdowns)
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
