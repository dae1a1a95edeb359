"""From run directories to the report's inputs and sections.

`load_inputs` loads and scores the runs exactly as `perrecbench score` does (same
function, metric, seed and resamples), so every score on the page is a row of
`score --format json`. `collect_sections` asks each builder in turn for its section.

Adding an analysis to the report (as rating prediction, `correlate`, `sweep` and the
breakdowns were added):

1. give it a typed result in its own stage (e.g. `score/correlation.py` returning a
   record) and a figure function `draw(data) -> Figure` in `report/figures.py` or
   `report/analysis_figures.py`;
2. write `report/sections/<name>.py` with `render(data, figures) -> str` and
   `build(inputs, progress) -> Section | None`, returning None when its inputs are
   absent: rating runs are among `inputs.runs` (their `method`), sweeps (loaded, with
   their runs) in `inputs.sweeps`;
3. add its `build` to `OPTIONAL_BUILDERS` below. The page, its table of contents, the
   figure files and `report.json` pick it up with no other change.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..bench import Benchmark
from ..records.sweep import NAME as SWEEP_MANIFEST
from ..score.runs import load_runs
from ..score.scoring import score_run
from ..score.sweep_table import load_sweep
from .reference import load_reference
from .section import Progress, ReportInputs, Section, SectionBuilder, no_progress
from .sections import breakdown, costs, leaderboard, methods, rating, reference, sweep

#: always tried, in page order (each returns None when it has nothing to show)
CORE_BUILDERS: tuple[SectionBuilder, ...] = (leaderboard.build, methods.build, costs.build, reference.build)
#: analyses whose inputs are optional; they follow the core sections in this order
OPTIONAL_BUILDERS: tuple[SectionBuilder, ...] = (rating.build, breakdown.build, sweep.build)


def is_sweep(path: Path | str) -> bool:
    """A sweep directory (`perrecbench sweep --out`): it holds `sweep.json`."""
    return (Path(path) / SWEEP_MANIFEST).is_file()


def load_inputs(
    paths: Sequence[Path | str],
    metric: str = "tau-b",
    bench: Path | str | None = None,
    seed: int = 0,
    resamples: int = 1000,
    reference: bool = False,
    progress: Progress = no_progress,
    sweeps: Sequence[Path | str] = (),
    breakdowns: Sequence[str] = (),
) -> ReportInputs:
    """Load the runs (a folder of runs stands for its runs) and score them like `score`:
    one run per cell of a model's row (`score.runs.one_run_per_cell`). A sweep directory
    among `paths` is a sweep (its cells are not leaderboard runs); sweeps are loaded here
    too, with their runs, so every section works from what was read once."""
    sweep_dirs = list(dict.fromkeys([Path(p) for p in sweeps] + [Path(p) for p in paths if is_sweep(p)]))
    run_paths = [Path(p) for p in paths if not is_sweep(p)]
    progress("loading runs", 0, 1 + len(sweep_dirs))
    benches: dict[str, Benchmark] = {}  # each benchmark is read once, for the runs and the sweeps
    runs = load_runs(run_paths, bench, one_per_cell=True, benches=benches) if run_paths or not sweep_dirs else []
    loaded = []
    for i, path in enumerate(sweep_dirs):
        progress("loading runs", 1 + i, 1 + len(sweep_dirs))
        loaded.append(load_sweep(path, benches))
    progress("loading runs", 1 + len(sweep_dirs), 1 + len(sweep_dirs))
    rows = []
    for i, run in enumerate(runs):
        progress("scoring", i, len(runs))
        rows.extend(score_run(run, metric, n_resamples=resamples, seed=seed))
    progress("scoring", len(runs), len(runs))
    return ReportInputs(runs=runs, rows=rows, metric=metric, seed=seed, resamples=resamples,
                        reference=load_reference() if reference else None,
                        paths=tuple(run_paths), sweeps=tuple(loaded),
                        breakdowns=tuple(breakdowns))


def collect_sections(
    inputs: ReportInputs,
    progress: Progress = no_progress,
    builders: Sequence[SectionBuilder] | None = None,
) -> list[Section]:
    """The sections that have something to show, in builder order."""
    out = []
    for build in builders if builders is not None else CORE_BUILDERS + OPTIONAL_BUILDERS:
        section = build(inputs, progress)
        if section is not None:
            out.append(section)
    keys = [s.key for s in out]
    if len(set(keys)) != len(keys):
        raise ValueError(f"report sections share a key: {keys}")  # a bug in a builder
    return out
