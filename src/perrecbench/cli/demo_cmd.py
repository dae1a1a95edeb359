"""`perrecbench demo`: the whole pipeline on built-in synthetic data in well under a minute."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from ..locking import locked
from ..report.demo import DEMO_MODELS
from ..terminal.progress import console
from .lock_option import WAIT


@locked("out")  # the benchmark and the runs below it
def demo(
    out: Path = typer.Option(Path("demo-out"), "--out", "-o", help="where the benchmark and runs go"),
    seed: int = typer.Option(0, min=0, help="seed of the synthetic world and the build"),
    models: str = typer.Option(",".join(DEMO_MODELS), help="baselines to run"),
    methods: str = typer.Option("point,pair,list", help="methods to run"),
    fmt: str = typer.Option("table", "--format", help="table, markdown or csv"),
    wait: bool = WAIT,
) -> None:
    """Generate synthetic reviews, build easy/medium/hard, run the baselines, score, print the leaderboard."""
    from ..errors import ConfigError
    from ..report.demo import premise_check, run_demo
    from ..run.plan import parse_methods
    from ..terminal.results import LeaderboardResult

    if fmt not in LeaderboardResult.FORMATS:  # checked before a minute of work, not after
        raise ConfigError("--format must be table, markdown or csv")
    start = time.monotonic()
    model_list = [m.strip() for m in models.split(",") if m.strip()]
    result = run_demo(out, seed, model_list, parse_methods(methods), console.print, start)
    typer.echo(LeaderboardResult(result.board).render(fmt), nl=False)
    premise = premise_check(result.rows)
    if premise is not None:
        console.print(premise)
    console.print(f"\nAll files are in {out}/ (score again with `perrecbench score {out}/runs/*`). "
                  f"Total {time.monotonic() - start:.1f}s.")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
