"""What several commands print the same way."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import typer


def warn_runs(runs: Iterable[Any]) -> None:
    """Each loaded run's warnings (a run set aside, a benchmark that differs...), on stderr."""
    for run in runs:
        for w in run.warnings:
            typer.secho(f"warning: {w}", fg="yellow", err=True)
