"""What several commands print the same way."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from ..run.runner import RunSummary


def warn_runs(runs: Iterable[Any]) -> None:
    """Each loaded run's warnings (a run set aside, a benchmark that differs...), on stderr."""
    for run in runs:
        for w in run.warnings:
            typer.secho(f"warning: {w}", fg="yellow", err=True)


def end_of_run(summaries: Sequence[RunSummary]) -> None:
    """After `run` or `sweep`: a line per run directory, then the exit a shell expects --
    130 after Ctrl-C (answers so far saved), 5 when the model answered not one question."""
    from ..errors import ModelError
    from ..run.summary import nothing_answered, outcomes
    from ..terminal.progress import console
    from ..terminal.run_text import nothing_answered_line, summary_lines

    for line in summary_lines(outcomes(summaries)):
        console.print(line, soft_wrap=True)
    if any(s.interrupted for s in summaries):
        console.print("[yellow]interrupted: answers so far are saved; run the same command to resume[/yellow]")
        sys.exit(130)  # typer.Exit would be swallowed by main()'s standalone_mode=False
    if nothing_answered(summaries):
        console.print(nothing_answered_line(), soft_wrap=True)
        sys.exit(ModelError.exit_code)
