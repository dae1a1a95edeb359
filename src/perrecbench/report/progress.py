"""Progress on the terminal for long work: stage bars (build) and the run bar (ETA and
live request, token and cost figures); plain lines when stderr is not a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

console = Console(stderr=True)


@contextmanager
def stage_progress(enabled: bool = True) -> Iterator[Callable[[str, int, int], None]]:
    """Yields a callback `(stage, done, total)` that drives one bar per stage."""
    if not enabled or not sys.stderr.isatty():
        last: dict[str, str | None] = {"stage": None}

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
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                for t in tasks.values():
                    task = progress.tasks[t]
                    progress.update(t, completed=task.total)
                tasks[stage] = progress.add_task(stage, total=max(total, 1))
            progress.update(tasks[stage], completed=done, total=max(total, 1))

        yield update


class RunProgress:
    """The run's bar: questions done of all, ETA, and `run_text.stats_text` of the model's usage."""

    def __init__(self, enabled: bool, label: str):
        self.enabled = enabled
        self.label = label
        self.bar: Progress | None = None
        self.task: Any = None
        self._last_plain = 0.0

    def __enter__(self) -> RunProgress:
        if self.enabled and sys.stderr.isatty():
            from rich.progress import TimeRemainingColumn

            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                TextColumn("{task.fields[stats]}"), console=console, transient=False,
            )
            self.bar.__enter__()
            self.task = self.bar.add_task(self.label, total=None, stats="")
        return self

    def __call__(self, done: int, total: int, stats: Any) -> None:
        from .run_text import stats_text

        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=max(total, 1), stats=stats_text(stats))
        elif self.enabled and (time.monotonic() - self._last_plain > 30 or done == total):
            self._last_plain = time.monotonic()
            console.print(f"{self.label}: {done}/{total} {stats_text(stats)}", soft_wrap=True)

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
