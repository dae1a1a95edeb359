"""The `perrecbench` command (and `python -m perrecbench`) as a process.

Two things only a whole process can do, around `main.main`:
- before the CLI's imports, start the OpenAI HTTP helper process a `run` will use, so
  its SDK import (about a second) overlaps them (`..models.llm.prestart`);
- after a `run` that finished, skip the interpreter's teardown: everything is written
  and closed, and freeing the benchmark and prompts object by object takes ~0.4 s.
This module imports almost nothing itself; `main.main` stays safe to call in-process.
"""

from __future__ import annotations

import importlib.util
import os
import sys

#: commands whose files are all written and closed when they return
EXIT_WITHOUT_TEARDOWN = {"run"}
#: `run --max-concurrency` when not given (here so the guess below needs no CLI import)
DEFAULT_MAX_CONCURRENCY = 8


def _value(argv: list[str], *names: str) -> str | None:
    """The last value given for an option (`--name V` or `--name=V`), or None."""
    found = None
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                found = argv[i + 1]
            elif name.startswith("--") and arg.startswith(name + "="):
                found = arg[len(name) + 1:]
    return found


def wants_http_worker(argv: list[str]) -> bool:
    """Whether these arguments describe a `run` that will use an HTTP helper process.
    A guess from argv alone; the run decides for itself, so a wrong guess costs only
    an unused spare (stopped at exit) or the time it would have saved."""
    from ..models.llm.prestart import workers_for

    if not argv or argv[0] != "run" or "--help" in argv or "--dry-run" in argv:
        return False
    model = _value(argv, "--model", "-m") or ""
    if not model.startswith("openai/") or importlib.util.find_spec("openai") is None:
        return False  # without the SDK the run stops at its check, which says what to install
    options = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--option"]
    options += [a[len("--option="):] for a in argv if a.startswith("--option=")]
    workers: int | str = "auto"
    for opt in options:
        key, _, val = opt.partition("=")
        if key.strip() == "http_workers":
            workers = val.strip()
    try:
        concurrency = int(_value(argv, "--max-concurrency") or DEFAULT_MAX_CONCURRENCY)
        return workers_for(concurrency, workers if workers == "auto" else int(workers)) > 0
    except ValueError:
        return False  # the CLI will report the bad value


def main() -> None:
    argv = sys.argv[1:]
    if wants_http_worker(argv):
        from ..models.llm.prestart import prestart

        prestart()
    try:
        from .main import main as cli_main
    except KeyboardInterrupt:  # Ctrl-C while starting: nothing was done yet
        sys.exit(130)
    cli_main()  # errors and Ctrl-C leave through sys.exit, with the normal teardown
    if argv and argv[0] in EXIT_WITHOUT_TEARDOWN:
        import atexit

        atexit._run_exitfuncs()  # e.g. stop an unused spare helper
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a reader that went away (`| head`), a closed stream
                pass
        os._exit(0)
