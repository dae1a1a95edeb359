"""A sweep's tidy table: every cell's runs scored like `score`, one row per cell x
method x level x metric, each with the cell's settings beside it."""

from __future__ import annotations

from pathlib import Path

from ..errors import BenchmarkError
from ..records.sweep import SweepCell, SweepRow, SweepTable
from ..run.rundir import RunDir
from ..run.sweep import read_manifest
from .runs import load_runs
from .scoring import score_run


def sweep_table(sweep_dir: Path | str, metric: str = "tau-b", n_resamples: int = 1000, seed: int = 0
                ) -> tuple[SweepTable, list[str]]:
    """(the table, warnings). Cells are scored on the questions every cell was asked
    (an interrupted cell narrows the others to its questions, and a warning says so);
    cells with no run directory yet are left out and named in the notes."""
    sweep_dir = Path(sweep_dir)
    manifest = read_manifest(sweep_dir)
    present: list[tuple[SweepCell, str, Path]] = []
    missing: list[tuple[SweepCell, str, Path]] = []
    for cell in manifest.cells:
        for method, rel in cell.runs.items():
            (present if RunDir(sweep_dir / rel).exists() else missing).append((cell, method, sweep_dir / rel))
    if not present:
        raise BenchmarkError(f"{sweep_dir}: no cell has run yet; run the sweep first")
    runs = load_runs([p for _, _, p in present], None)
    rows = []
    for (cell, _, _), run in zip(present, runs, strict=True):
        for r in score_run(run, metric, n_resamples, seed):
            rows.append(SweepRow(**r.model_dump(), cell=cell.name, settings=cell.settings))
    notes = [f"not run yet: {cell.name} {method}" for cell, method, _ in missing]
    warnings = [w for run in runs for w in run.warnings]
    table = SweepTable(model=manifest.model, mode=manifest.mode, axes=manifest.axes, base=manifest.base,
                       metric=metric, rows=rows, notes=notes)
    return table, warnings
