"""Shared progress display for long stages (build, run): a bar with an ETA per stage.

On a terminal, rich bars; otherwise (logs, CI, `--no-progress`) plain lines: one when
a stage starts, and for long stages one every `PLAIN_EVERY_S` seconds with the share
done and the time left, so a multi-hour build in a log still says where it is.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)
PLAIN_EVERY_S = 15.0


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class PlainProgress:
    """`(stage, done, total)` -> plain lines: the stage when it starts, then now and then
    `stage: 42% (about 0:01:10 left)`."""

    def __init__(self, every_s: float = PLAIN_EVERY_S, clock=time.monotonic, show_updates: bool = True):
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
def stage_progress(enabled: bool = True):
    """Yields a callback `(stage, done, total)` that drives one bar per stage."""
    if not enabled or not sys.stderr.isatty():
        yield PlainProgress(show_updates=enabled)
        return
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
        TextColumn("left"), TimeRemainingColumn(), console=console, transient=False,
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
