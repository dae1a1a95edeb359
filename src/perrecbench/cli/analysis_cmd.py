"""`perrecbench correlate` and `perrecbench breakdown`: the paper's analyses of finished runs.

Each prints a table (or `--format json|csv`) and, with `--out DIR`, writes its typed
result as JSON, its rows as CSV and its figures (SVG, PNG, PDF) under DIR/figures.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from ..errors import ConfigError
from ..locking import locked
from .echo import warn_runs
from .lock_option import WAIT


def write_outputs(out: Path, files: dict[str, str], figures: Callable[[Path], list[Path]] | None) -> list[Path]:
    """Write `files` (name -> text) into `out`, then the figures into out/figures (a
    missing `report` extra skips them with a note, never loses the data files)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    if figures is not None:
        try:
            written += figures(out / "figures")
        except ConfigError as exc:
            typer.secho(f"note: no figures ({exc})", fg="yellow", err=True)
    return written


@locked("out")  # with --out, before the runs are loaded
def correlate(
    run_dirs: list[Path] = typer.Argument(..., metavar="RUN_DIR", help="Run directories: preference runs (point/pair/list) and "
                                          "rating runs (--method rating) of several models."),
    cell: str = typer.Option("avg", "--cell", help="preference score: avg (the 9-cell average) or LEVEL:METHOD, "
                             "e.g. hard:list"),
    metric: str = typer.Option("tau-b", "--metric", help="tau-b, official-v1 or official-v2"),
    match: str = typer.Option("label", "--match", help="pair runs by label (model and variant) or by model "
                              "(e.g. rating runs made with another prompt set)"),
    include_oracle: bool = typer.Option(False, "--include-oracle", help="keep baseline/oracle (it reads the truth)"),
    fmt: str = typer.Option("table", "--format", help="table, json or csv"),
    out: Path | None = typer.Option(None, "--out", "-o", help="write correlation.json, correlation.csv, "
                                    "correlation-points.csv and figures/ here"),
    bench: Path | None = typer.Option(None, "--bench", help="benchmark directory (default: each run's own)"),
    resamples: int = typer.Option(1000, "--resamples", help="bootstrap resamples"),
    seed: int = typer.Option(0, "--seed", min=0, help="bootstrap seed"),
    wait: bool = WAIT,
) -> None:
    """Correlate preference scores with rating-prediction error (MAE, RMSE).

    Across models, and per group within each model: Pearson, Spearman and Kendall, each
    with a 95% bootstrap interval and its sample size."""
    from ..report import analysis_figures as figs
    from ..score.correlation import correlate as run_correlate
    from ..score.runs import load_runs
    from ..terminal.analysis_text import correlation_points_csv
    from ..terminal.results import CorrelationResult

    CorrelationResult.check_format(fmt)
    if resamples < 1:
        raise ConfigError("--resamples must be at least 1")
    runs = load_runs(run_dirs, bench, one_per_cell=True)  # one run per cell, as the report's
    warn_runs(runs)
    report = run_correlate(runs, metric, cell, match, include_oracle, resamples, seed)
    result = CorrelationResult(report)
    typer.echo(result.render(fmt), nl=False)
    if out is not None:
        def figures(folder: Path) -> list[Path]:
            return (figs.correlation_figure(report, folder) + figs.group_correlation_figure(report, folder)
                    + figs.rating_errors_figure(report, folder))

        written = write_outputs(out, {"correlation.json": result.to_json(),
                                      "correlation.csv": result.to_csv(),
                                      "correlation-points.csv": correlation_points_csv(report)}, figures)
        typer.secho(f"wrote {len(written)} files to {out}", err=True)


@locked("out")  # with --out, before the runs are loaded
def breakdown(
    run_dirs: list[Path] = typer.Argument(..., metavar="RUN_DIR", help="Run directories (preference and/or rating runs)."),
    by: str = typer.Option(..., "--by", help="category, exposure, level or method"),
    exposure_file: Path | None = typer.Option(None, "--exposure-file", help="item -> count (CSV item_id,count or "
                                              "a JSON object) instead of the benchmark's review counts"),
    buckets: int = typer.Option(4, "--buckets", min=1, help="exposure: quantile buckets"),
    top: int = typer.Option(8, "--top", min=1, help="category: the largest categories shown (the rest pooled)"),
    per_level: bool = typer.Option(False, "--per-level", help="a row per level too (default: levels pooled)"),
    metric: str = typer.Option("tau-b", "--metric", help="tau-b, official-v1 or official-v2 (rating runs: MAE, RMSE, acc)"),
    fmt: str = typer.Option("table", "--format", help="table, json or csv"),
    out: Path | None = typer.Option(None, "--out", "-o", help="write breakdown-<by>.json, .csv and figures/ here"),
    bench: Path | None = typer.Option(None, "--bench", help="benchmark directory (default: each run's own)"),
    resamples: int = typer.Option(1000, "--resamples", help="bootstrap resamples"),
    seed: int = typer.Option(0, "--seed", min=0, help="bootstrap seed"),
    wait: bool = WAIT,
) -> None:
    """Scores by item category, item exposure, level or method.

    Each group's score with its 95% bootstrap interval and question count; exposure is
    how often the item was rated (or your own counts, --exposure-file)."""
    from ..report import analysis_figures as figs
    from ..score.breakdown import breakdown as run_breakdown
    from ..score.breakdown import read_exposure_file
    from ..score.runs import load_runs
    from ..terminal.results import BreakdownResult

    BreakdownResult.check_format(fmt)
    if resamples < 1:
        raise ConfigError("--resamples must be at least 1")
    if exposure_file is not None and by != "exposure":
        raise ConfigError("--exposure-file is for --by exposure")
    counts = read_exposure_file(exposure_file) if exposure_file is not None else None
    runs = load_runs(run_dirs, bench)
    warn_runs(runs)
    table = run_breakdown(runs, by, metric, per_level, counts, f"the counts in {exposure_file}" if counts else None,
                          buckets, top, resamples, seed)
    result = BreakdownResult(table)
    typer.echo(result.render(fmt), nl=False)
    if out is not None:
        written = write_outputs(out, {f"breakdown-{by}.json": result.to_json(),
                                      f"breakdown-{by}.csv": result.to_csv()},
                                lambda folder: figs.breakdown_figure(table, folder))
        typer.secho(f"wrote {len(written)} files to {out}", err=True)


def register(app: typer.Typer) -> None:
    """Add `correlate` and `breakdown`."""
    app.command("correlate")(correlate)
    app.command("breakdown")(breakdown)
