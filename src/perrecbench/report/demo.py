"""`perrecbench demo`: the whole pipeline on built-in synthetic data -- build, run the
baselines, score -- in well under a minute. The command only prints what this reports."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..records import ScoreRow
from .leaderboard import Leaderboard, build_leaderboard

DEMO_MODELS = ("random", "bias", "content", "cf", "oracle")


@dataclass
class DemoResult:
    rows: list[ScoreRow]
    board: Leaderboard
    run_dirs: list[Path]


def run_demo(out: Path, seed: int, models: Sequence[str], methods: Sequence[str],
             say: Callable[[str], None] = lambda text: None, start: float | None = None) -> DemoResult:
    """Build `out`/bench from synthetic reviews, run each baseline with each method under
    `out`/runs (fresh each time) and score them; `say` hears each step (rich markup)."""
    from ..bench import Benchmark
    from ..builder.params import BuildParams
    from ..builder.pipeline import build_from_source
    from ..models.registry import create_model
    from ..run.runner import run
    from ..score.runs import load_runs
    from ..score.scoring import score_runs

    start = time.monotonic() if start is None else start
    bench_dir = out / "bench"
    say(f"[bold]1/3[/bold] generating synthetic reviews and building {bench_dir} …")
    build_from_source("synthetic", [], [], bench_dir, BuildParams(seed=seed), {"seed": seed})
    bench = Benchmark(bench_dir)
    counts = bench.manifest.counts.questions.get("test", {})
    say(f"    test questions: {counts} ({time.monotonic() - start:.1f}s)")

    shutil.rmtree(out / "runs", ignore_errors=True)  # a demo starts fresh; real runs resume
    run_dirs = []
    say(f"[bold]2/3[/bold] running {len(models)} baselines x {len(methods)} methods …")
    for name in models:
        for method in methods:
            run_dir = out / "runs" / f"{name}-{method}"
            model = create_model(f"baseline/{name}", {"seed": seed} if name == "random" else {})
            summary = run(model, bench, method, run_dir)
            if summary.failed:
                say(f"[yellow]    {name}/{method}: {summary.failed} failed questions[/yellow]")
            run_dirs.append(run_dir)
    say(f"    done ({time.monotonic() - start:.1f}s)")

    say("[bold]3/3[/bold] scoring (Kendall tau-b on relative ratings; failed = 0)")
    rows = score_runs(load_runs(run_dirs), "tau-b", n_resamples=0)
    return DemoResult(rows, build_leaderboard(rows, "tau-b"), run_dirs)


def premise_check(rows: Sequence[ScoreRow]) -> str | None:
    """The premise in numbers: rating error rewards habit + quality, PerRecBench does not
    (None when the bias and random point runs are not among `rows`)."""
    point = {(r.model, r.metric, r.level): r.score for r in rows if r.method == "point"}
    if ("baseline/bias", "rmse", "easy") not in point or ("baseline/random", "rmse", "easy") not in point:
        return None
    return ("\n[bold]Premise check[/bold] (easy, pointwise): "
            f"bias RMSE {point[('baseline/bias', 'rmse', 'easy')]:.2f} vs random "
            f"{point[('baseline/random', 'rmse', 'easy')]:.2f}, yet bias tau "
            f"{point[('baseline/bias', 'tau-b', 'easy')]:+.2f} — a good rating predictor "
            "need not know what a person prefers.")
