"""Shared rich progress display for long stages (build, run)."""

from __future__ import annotations

import sys
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

console = Console(stderr=True)


@contextmanager
def stage_progress(enabled: bool = True):
    """Yields a callback `(stage, done, total)` that drives one bar per stage."""
    if not enabled or not sys.stderr.isatty():
        last = {"stage": None}

        def plain(stage: str, done: int, total: int) -> None:
            if stage != last["stage"]:
                console.print(f"[dim]… {stage}[/dim]")
                last["stage"] = stage

        yield plain
        return
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=False,
    ) as progress:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                for t in tasks.values():
                    task = progress.tasks[t]
                    progress.update(t, completed=task.total)
                tasks[stage] = progress.add_task(stage, total=max(total, 1))
            progress.update(tasks[stage], completed=done, total=max(total, 1))

        yield update
