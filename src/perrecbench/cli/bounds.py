"""Callbacks for float options: typer's `min=`/`max=` bound ints and floats, but let nan
and inf through (`--window-days nan` would fail deep inside a build), and a float bound
cannot be open (`> 0`). A failed check is typer's usage error naming the option, exit 2."""

from __future__ import annotations

import math

import typer


def finite(value: float | None) -> float | None:
    """Any finite number (or the option left unset)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number")
    return value


def positive(value: float | None) -> float | None:
    """A finite number above 0: a rate, a duration, a window."""
    finite(value)
    if value is not None and value <= 0:
        raise typer.BadParameter(f"{value} is not above 0")
    return value


def fraction(value: float | None) -> float | None:
    """A number in (0, 1]: top_p, a density."""
    positive(value)
    if value is not None and value > 1:
        raise typer.BadParameter(f"{value} is not in (0, 1]")
    return value
