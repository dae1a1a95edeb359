"""The `perrecbench` command: builds the Typer app from the command modules and prints
every error in one line -- user errors with their fix, anything unexpected with the file
that holds its details -- never a traceback.

Only typer's own classes are caught (`typer.TyperException`, `typer.Exit`, `typer.Abort`):
typer >= 0.27.2 vendors click and raises its own copies of click's exceptions, and the
`click` package may not be installed at all."""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from ..errors import Interrupted, PerRecBenchError, storage_full
from ..redaction import redact

#: what each long command has kept when Ctrl-C stops it (printed after "interrupted: ")
SAVED_ON_INTERRUPT = {
    "run": "answers so far are saved; run the same command to resume",
    "sweep": "answers so far are saved; run the same command to resume",
    "profiles": "the profiles made so far are saved; run the same command to resume",
    "build": "OUT is left as it was (the unfinished build is removed); run the same command to build again",
    "import-release": "OUT is left as it was (the unfinished import is removed); run the same command again",
    "sft-data": "OUT is left as it was (the unfinished data is removed); run the same command again",
    "train": "the checkpoints saved so far stay in OUT; run the same command to resume from the last one",
    "report": "the page in OUT may be incomplete; run the same command to write it again",
}
_SAVED_DEFAULT = "stopped before it finished; run the same command again"

#: piped help (not a terminal) is laid out this wide instead of rich's 80 columns
PIPED_HELP_WIDTH = 120


def interrupt_message(command: str | None) -> str:
    return SAVED_ON_INTERRUPT.get(command or "", _SAVED_DEFAULT)


class PerRecBenchGroup(TyperGroup):
    """The root command group. Ctrl-C in any command becomes `Interrupted`, which reaches
    `main()`: under `standalone_mode=False` typer would turn the KeyboardInterrupt into a
    *returned* exit code 130 and the command would end silently."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted(interrupt_message(ctx.invoked_subcommand)) from None


app = typer.Typer(
    name="perrecbench",
    help="PerRecBench: does a recommender understand personal preference? build -> run -> score.",
    cls=PerRecBenchGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from . import (
        analysis_cmd,
        build_cmd,
        demo_cmd,
        export_questions_cmd,
        models_cmd,
        prompt_cmd,
        release_cmd,
        report_cmd,
        run_cmd,
        score_cmd,
        sweep_cmd,
        train_cmd,
    )

    for mod in (demo_cmd, build_cmd, release_cmd, run_cmd, sweep_cmd, score_cmd, analysis_cmd, report_cmd,
                prompt_cmd, train_cmd, export_questions_cmd, models_cmd):
        mod.register(app)


_register()


def _piped_help_width(args: list[str]) -> None:
    """Help written to a pipe or file is laid out wider than rich's default 80 columns, so
    option help is not cut off (rich reads COLUMNS when the output is not a terminal)."""
    if not os.environ.get("COLUMNS") and not sys.stdout.isatty() and ("--help" in args or not args):
        os.environ["COLUMNS"] = str(PIPED_HELP_WIDTH)


def main() -> None:
    _piped_help_width(sys.argv[1:])
    try:
        code = app(standalone_mode=False)
    except Interrupted as exc:
        typer.secho(f"interrupted: {exc}", fg="yellow", err=True)
        sys.exit(exc.exit_code)
    except PerRecBenchError as exc:
        typer.secho(redact(f"error: {exc}"), fg="red", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:  # before a command started (e.g. while importing)
        typer.secho(f"interrupted: {_SAVED_DEFAULT}", fg="yellow", err=True)
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: typer's usage line, the error, exit 2
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"Error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except typer.Abort:  # a confirmation prompt answered with Ctrl-C or end of input
        typer.secho("aborted", fg="yellow", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:
        full = storage_full(exc, getattr(exc, "filename", None) or ".")
        if full is not None:  # no room to write (a full disk): not a bug, and no crash file fits either
            typer.secho(f"error: {full}", fg="red", err=True)
            sys.exit(full.exit_code)
        from .crash import report_crash

        path = report_crash(exc, sys.argv)
        typer.secho(redact(f"error: internal error: {type(exc).__name__}: {exc} (this is a bug; the details are "
                           f"in {path})"), fg="red", err=True)
        sys.exit(70)
    # `typer.Exit(code)` (and `--help`) come back as a returned exit code under standalone_mode=False
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
