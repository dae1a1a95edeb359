"""`--wait`, one declaration for every command that writes an output: what to do when
another process is writing the same output (see `perrecbench.locking`)."""

from __future__ import annotations

import typer

from ..locking import set_waiting


def _apply(wait: bool) -> bool:
    """Parsing the option sets the policy the library's locks follow for this command."""
    set_waiting(bool(wait), notify=lambda line: typer.secho(line, fg="yellow", err=True))
    return wait


WAIT = typer.Option(
    False, "--wait", callback=_apply,
    help="if another process is writing the same output, wait until it is done (default: stop at once "
    "with an error naming its PID)")
