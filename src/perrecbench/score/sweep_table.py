"""A sweep's tidy table: every cell's runs scored like `score`, one row per cell x
method x level x metric, each with the cell's settings beside it.

Loading (`load_sweep`) and scoring (`score_sweep`) are apart, so the report loads a
sweep's runs once, with its other runs, and scores them for its own metric."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..bench import Benchmark
from ..errors import BenchmarkError
from ..records.sweep import SweepCell, SweepManifest, SweepRow, SweepTable
from ..run.rundir import RunDir
from .runs import LoadedRun, load_runs
from .scoring import score_run


@dataclass(frozen=True)
class LoadedSweep:
    """A sweep directory: its manifest, the runs of the cells that have run (each with
    its cell), and the (cell, method) pairs that have not run yet."""

    path: Path
    manifest: SweepManifest
    runs: tuple[tuple[SweepCell, LoadedRun], ...]
    missing: tuple[tuple[SweepCell, str], ...]


def load_sweep(sweep_dir: Path | str, benches: dict[str, Benchmark] | None = None) -> LoadedSweep:
    """Read a sweep and its cells' runs. Cells are scored on the questions every cell was
    asked (an interrupted cell narrows the others to its questions, and a warning says
    so). `benches`: see `load_runs`."""
    sweep_dir = Path(sweep_dir)
    manifest = SweepManifest.read_dir(sweep_dir)
    present: list[tuple[SweepCell, Path]] = []
    missing: list[tuple[SweepCell, str]] = []
    for cell in manifest.cells:
        for method, rel in cell.runs.items():
            if RunDir(sweep_dir / rel).exists():
                present.append((cell, sweep_dir / rel))
            else:
                missing.append((cell, method))
    if not present:
        raise BenchmarkError(f"{sweep_dir}: no cell has run yet; run the sweep first")
    runs = load_runs([p for _, p in present], None, benches=benches)
    return LoadedSweep(sweep_dir, manifest, tuple((cell, run) for (cell, _), run in zip(present, runs, strict=True)),
                       tuple(missing))


def score_sweep(sweep: LoadedSweep, metric: str = "tau-b", n_resamples: int = 1000, seed: int = 0
                ) -> tuple[SweepTable, list[str]]:
    """(the table, warnings); cells with no run directory yet are named in its notes."""
    rows = []
    for cell, run in sweep.runs:
        for r in score_run(run, metric, n_resamples, seed):
            rows.append(SweepRow(**r.model_dump(), cell=cell.name, settings=cell.settings))
    notes = [f"not run yet: {cell.name} {method}" for cell, method in sweep.missing]
    warnings = [w for _, run in sweep.runs for w in run.warnings]
    m = sweep.manifest
    table = SweepTable(model=m.model, mode=m.mode, axes=m.axes, base=m.base, metric=metric, rows=rows, notes=notes)
    return table, warnings


def sweep_table(sweep_dir: Path | str, metric: str = "tau-b", n_resamples: int = 1000, seed: int = 0
                ) -> tuple[SweepTable, list[str]]:
    """(the table, warnings) of the sweep in `sweep_dir` (`load_sweep`, then `score_sweep`)."""
    return score_sweep(load_sweep(sweep_dir), metric, n_resamples, seed)
