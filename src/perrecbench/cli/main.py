"""Entry point: builds the Typer app from the command modules and prints user errors cleanly."""

from __future__ import annotations

import sys

import typer

from ..errors import PerRecBenchError

app = typer.Typer(
    name="perrecbench",
    help="PerRecBench: does a recommender understand personal preference? build -> run -> score.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from . import build_cmd, demo_cmd, prompt_cmd, release_cmd, run_cmd, score_cmd, train_cmd

    for mod in (demo_cmd, build_cmd, release_cmd, run_cmd, score_cmd, prompt_cmd, train_cmd):
        mod.register(app)


_register()


def main() -> None:
    try:
        app(standalone_mode=False)
    except PerRecBenchError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.secho("interrupted: work already done is saved; run the same command to resume",
                    fg="yellow", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            typer.secho("aborted", fg="yellow", err=True)
            sys.exit(130)
        raise


if __name__ == "__main__":
    main()
