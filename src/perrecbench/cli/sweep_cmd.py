"""`perrecbench sweep`: one model, a grid of settings, one process; then the tidy table
and a line plot per varied setting. Binds arguments only (`run.sweep` plans and runs,
`score.sweep_table` scores, `report` prints and draws)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ..constants import DEFAULT_CONCURRENCY
from ..locking import locked
from ..terminal.progress import console
from .llm_flags import llm_flags
from .lock_option import WAIT

if TYPE_CHECKING:
    from ..run.sweep import SweepRequest


@locked("out")  # the whole command: the runs, then the table and plots
@llm_flags("sweep")
def sweep(
    bench: Path = typer.Option(..., "--bench", "-b", help="benchmark directory"),
    model: str = typer.Option(..., "--model", "-m", help="one model: an LLM (openai/, anthropic/, hf/) or a "
                              "baseline (baseline/<name>)"),
    method: str = typer.Option(..., "--method", help="methods of every cell: point, pair, list, rating, several "
                               "comma-separated, or all"),
    out: Path = typer.Option(..., "--out", "-o", help="sweep directory: OUT/<cell>/<method> runs, sweep.json, "
                             "sweep-table.json/.csv, figures/"),
    vary: list[str] = typer.Option(..., "--vary", help="SETTING=V1,V2,... (repeatable): e.g. k=1,2,4,8,12,16, "
                                   "shots=0,1,3,5, cot=off,on, samples=1,5, profile=none,offline, "
                                   "prompt_set=default,official, temperature=0,0.5,1"),
    grid: bool = typer.Option(False, "--grid", help="every combination (default: one setting at a time, the "
                              "others at their base value)"),
    option: list[str] = typer.Option([], "--option", help="a setting of every cell, key=value (repeatable)"),
    levels: str | None = typer.Option(None, help="comma-separated levels (default: all)"),
    split: str = typer.Option("test", help="test, heldout or train"),
    limit: int | None = typer.Option(None, min=1, help="first N questions per level (also caps --pairs)"),
    pairs: str = typer.Option("400", "--pairs", help="rating: pairs per cell, a number or all"),
    pairs_seed: int = typer.Option(0, "--pairs-seed", min=0, help="rating: seed of the pair sample"),
    max_concurrency: int = typer.Option(DEFAULT_CONCURRENCY, min=1, help="requests (LLM, all cells together) or "
                                        "questions (baselines) at once"),
    reask: str = typer.Option("transient", "--reask", help="transient, all or none (as for run)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="count the requests and cost of every cell; call nothing"),
    progress: bool = typer.Option(True, help="show progress"),
    metric: str = typer.Option("tau-b", "--metric", help="tau-b, official-v1 or official-v2"),
    resamples: int = typer.Option(1000, "--resamples", min=1, help="bootstrap resamples of the table"),
    llm_flags: dict[str, Any] | None = None,  # the LLM flags (`llm_flags`), from the options' declarations
    wait: bool = WAIT,
) -> None:
    """One model under a grid of settings in one process; a tidy table and a plot per setting.

    Each cell is a normal, resumable run directory; all cells share the process, one
    connection, the request slots and the cache. At the end: the tidy table (CSV/JSON,
    a row per setting x method x level x metric with its interval) and a line plot per
    varied setting. Rerun the same command to resume."""
    from ..run.plan import RunRequest
    from ..run.sweep import MODES, SweepRequest, parse_axis

    axes = dict(parse_axis(v) for v in vary)
    run = RunRequest.from_text(bench, model, method, out, levels, split, limit, max_concurrency, reask, option,
                               pairs, pairs_seed, llm_flags)
    request = SweepRequest(run, axes=axes, mode=MODES[1 if grid else 0])
    for warning in request.entry.warnings:
        console.print(f"[yellow]warning: {warning}[/yellow]", soft_wrap=True)
    if dry_run:
        _dry_run(request)
        return
    from ..run.sweep import execute
    from ..terminal.progress import RunProgress
    from ..terminal.run_text import stats_text
    from .echo import end_of_run

    start = time.monotonic()
    cells = request.cells()
    console.print(f"sweep: {model}, {len(cells)} cells x {len(request.methods)} methods ({request.mode})",
                  soft_wrap=True)
    with RunProgress(progress, f"sweep {model}") as bar:
        _, summaries, models = execute(request, bar)
    total = models[0].stats() if models else None
    for m in models[1:]:
        total = total + m.stats() if total is not None else m.stats()
    interrupted = any(s.interrupted for s in summaries)
    answered = sum(s.answered for s in summaries)
    usage = stats_text(total) if total is not None else ""
    console.print(f"{'interrupted' if interrupted else 'done'}: {answered} answered now, "
                  f"{sum(s.skipped for s in summaries)} already done, {time.monotonic() - start:.1f} s"
                  + (f"; {usage}" if usage else ""), soft_wrap=True)
    end_of_run(summaries)
    _table(out, metric, resamples)


def _table(out: Path, metric: str, resamples: int) -> None:
    from ..records import provenance
    from ..records.sweep import TABLE
    from ..report import analysis_figures as figs
    from ..score.sweep_table import sweep_table
    from ..terminal.analysis_text import sweep_csv, sweep_text
    from .analysis_cmd import write_outputs

    table, warnings = sweep_table(out, metric, resamples)
    for w in warnings:
        typer.secho(f"warning: {w}", fg="yellow", err=True)
    typer.echo(sweep_text(table), nl=False)
    record = table.model_copy(update={"provenance": provenance.current()})
    from ..records.versioning import dumps

    written = write_outputs(out, {TABLE: dumps(record.to_data()), "sweep-table.csv": sweep_csv(table)},
                            lambda folder: figs.sweep_figures(table, folder))
    typer.secho(f"wrote {len(written)} files to {out}", err=True)


def _dry_run(request: SweepRequest) -> None:
    from ..run.dry_run import dry_run
    from ..terminal.run_text import sweep_dry_run_lines

    lines = sweep_dry_run_lines(dry_run(request.run, [(c.name, c.settings) for c in request.cells()]))
    for line in lines[:-1]:
        console.print(line, soft_wrap=True)
    console.print(lines[-1])  # the closing note (or the one line of a model that makes no calls) wraps


def register(app: typer.Typer) -> None:
    """Add `sweep`."""
    app.command("sweep")(sweep)
