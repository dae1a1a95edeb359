"""The `perrecbench` command: builds the Typer app from the command modules and prints
every error in one line -- user errors with their fix, anything unexpected with the file
that holds its details -- never a traceback."""

from __future__ import annotations

import sys

import typer

from ..errors import PerRecBenchError, storage_full
from ..redaction import redact

app = typer.Typer(
    name="perrecbench",
    help="PerRecBench: does a recommender understand personal preference? build -> run -> score.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from . import (
        analysis_cmd,
        build_cmd,
        demo_cmd,
        prompt_cmd,
        release_cmd,
        report_cmd,
        run_cmd,
        score_cmd,
        sweep_cmd,
        train_cmd,
    )

    for mod in (demo_cmd, build_cmd, release_cmd, run_cmd, sweep_cmd, score_cmd, analysis_cmd, report_cmd,
                prompt_cmd, train_cmd):
        mod.register(app)


_register()


def main() -> None:
    try:
        app(standalone_mode=False)
    except PerRecBenchError as exc:
        typer.secho(redact(f"error: {exc}"), fg="red", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.secho("interrupted: work already done is saved; run the same command to resume",
                    fg="yellow", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:
        import click

        if isinstance(exc, click.exceptions.ClickException):  # usage errors
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            typer.secho("aborted", fg="yellow", err=True)
            sys.exit(130)
        full = storage_full(exc, getattr(exc, "filename", None) or ".")
        if full is not None:  # no room to write (a full disk): not a bug, and no crash file fits either
            typer.secho(f"error: {full}", fg="red", err=True)
            sys.exit(full.exit_code)
        from .crash import report_crash

        path = report_crash(exc, sys.argv)
        typer.secho(redact(f"error: internal error: {type(exc).__name__}: {exc} (this is a bug; the details are "
                           f"in {path})"), fg="red", err=True)
        sys.exit(70)


if __name__ == "__main__":
    main()
