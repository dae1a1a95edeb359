"""Progress on the terminal for long work: stage bars with an ETA (build) and the run bar
(ETA and live request, token and cost figures); plain lines when stderr is not a terminal
(logs, CI, `--no-progress`): one when a stage starts and, for long stages, one every
`PLAIN_EVERY_S` seconds with the share done and the time left."""

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


PLAIN_EVERY_S = 15.0


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class PlainProgress:
    """`(stage, done, total)` -> plain lines: the stage when it starts, then now and then
    `stage: 42% (about 0:01:10 left)`, so a multi-hour build in a log still says where it is."""

    def __init__(self, every_s: float = PLAIN_EVERY_S, clock: Callable[[], float] = time.monotonic,
                 show_updates: bool = True):
        self.every_s, self.clock, self.show_updates = every_s, clock, show_updates
        self.stage: str | None = None
        self.started = self.last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = self.clock()
        if stage != self.stage:
            console.print(f"[dim]… {stage}[/dim]")
            self.stage, self.started, self.last = stage, now, now
            return
        if not self.show_updates or total <= 1 or now - self.last < self.every_s:
            return
        frac = min(1.0, max(0.0, done / total))
        left = f" (about {_clock((now - self.started) * (1 - frac) / frac)} left)" if frac > 0.01 else ""
        console.print(f"[dim]… {stage}: {frac:.0%}{left}[/dim]")
        self.last = now


@contextmanager
def stage_progress(enabled: bool = True) -> Iterator[Callable[[str, int, int], None]]:
    """Yields a callback `(stage, done, total)` that drives one bar per stage, with an ETA."""
    if not enabled or not sys.stderr.isatty():
        yield PlainProgress(show_updates=enabled)
        return
    from rich.progress import TaskProgressColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
        TextColumn("left"), TimeRemainingColumn(), console=console, transient=False,
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
