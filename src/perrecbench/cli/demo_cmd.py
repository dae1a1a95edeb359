"""`perrecbench demo`: the whole pipeline on built-in synthetic data in well under a minute."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import typer

from ..locking import locked
from ..report.progress import console
from .lock_option import WAIT

DEMO_MODELS = ("random", "bias", "content", "cf", "oracle")


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
    from ..bench import Benchmark
    from ..build.params import BuildParams
    from ..build.pipeline import build_from_source
    from ..errors import ConfigError
    from ..models.registry import create_model
    from ..report import leaderboard as lb
    from ..run.plan import parse_methods
    from ..run.runner import run
    from ..score.runs import load_runs
    from ..score.scoring import score_runs

    render = {"table": lb.render_table, "markdown": lb.to_markdown, "csv": lb.to_csv}.get(fmt)
    if render is None:  # checked before a minute of work, not after
        raise ConfigError("--format must be table, markdown or csv")
    start = time.monotonic()
    bench_dir = out / "bench"
    params = BuildParams(seed=seed)
    console.print(f"[bold]1/3[/bold] generating synthetic reviews and building {bench_dir} …")
    build_from_source("synthetic", [], [], bench_dir, params, {"seed": seed})
    bench = Benchmark(bench_dir)
    counts = bench.manifest.counts.questions.get("test", {})
    console.print(f"    test questions: {counts} ({time.monotonic() - start:.1f}s)")

    shutil.rmtree(out / "runs", ignore_errors=True)  # a demo starts fresh; real runs resume
    run_dirs = []
    model_list = [m.strip() for m in models.split(",") if m.strip()]
    method_list = parse_methods(methods)
    console.print(f"[bold]2/3[/bold] running {len(model_list)} baselines x {len(method_list)} methods …")
    for name in model_list:
        for method in method_list:
            run_dir = out / "runs" / f"{name}-{method}"
            options = {"seed": seed} if name == "random" else {}
            model = create_model(f"baseline/{name}", options)
            summary = run(model, bench, method, run_dir)
            if summary.failed:
                console.print(f"[yellow]    {name}/{method}: {summary.failed} failed questions[/yellow]")
            run_dirs.append(run_dir)
    console.print(f"    done ({time.monotonic() - start:.1f}s)")

    console.print("[bold]3/3[/bold] scoring (Kendall tau-b on relative ratings; failed = 0)")
    rows = score_runs(load_runs(run_dirs), "tau-b", n_resamples=0)
    board = lb.build_leaderboard(rows, "tau-b")
    typer.echo(render(board), nl=False)

    # the premise in numbers: rating error rewards habit + quality, PerRecBench does not
    point = {(r.model, r.metric, r.level): r.score for r in rows if r.method == "point"}
    if ("baseline/bias", "rmse", "easy") in point and ("baseline/random", "rmse", "easy") in point:
        console.print(
            "\n[bold]Premise check[/bold] (easy, pointwise): "
            f"bias RMSE {point[('baseline/bias', 'rmse', 'easy')]:.2f} vs random "
            f"{point[('baseline/random', 'rmse', 'easy')]:.2f}, yet bias tau "
            f"{point[('baseline/bias', 'tau-b', 'easy')]:+.2f} — a good rating predictor "
            "need not know what a person prefers."
        )
    console.print(f"\nAll files are in {out}/ (score again with `perrecbench score {out}/runs/*`). "
                  f"Total {time.monotonic() - start:.1f}s.")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
