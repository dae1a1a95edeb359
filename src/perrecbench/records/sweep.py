"""A sweep: one model under a grid of settings, each cell a normal run directory.

    SWEEP_DIR/
      sweep.json              `SweepManifest`: the model, the settings varied, the cells and their runs
      <cell>/<method>/        one run directory per cell and method (`RunManifest` ...)
      sweep-table.json        `SweepTable`: the tidy table of scores (also as sweep-table.csv)
      figures/                a line plot per varied setting

The manifest is written before anything runs, so an interrupted sweep is resumed by
the same command and can be scored as far as it got.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ..errors import BenchmarkError
from .provenance import Provenance
from .score_row import ScoreRow
from .versioning import StoredRecord

NAME = "sweep.json"
TABLE = "sweep-table.json"
Value = Any  # a setting's value: number, string, bool or None


class SweepCell(BaseModel):
    """One combination of settings and its run directories (method -> path relative to
    the sweep directory)."""

    model_config = ConfigDict(frozen=True)

    name: str
    settings: dict[str, Value] = Field(default_factory=dict)
    runs: dict[str, str] = Field(default_factory=dict)


class SweepManifest(StoredRecord):
    FORMAT: ClassVar[int] = 1
    KIND: ClassVar[str] = "sweep manifest"
    model_config = ConfigDict(frozen=True)

    format_version: int = FORMAT
    model: str
    bench: str
    bench_fingerprint: str | None = None
    split: str = "test"
    methods: list[str] = Field(default_factory=list)
    mode: str = "one-at-a-time"  # or "grid"
    axes: dict[str, list[Value]] = Field(default_factory=dict)
    #: each varied setting's value in the base cell (the model's default or --option)
    base: dict[str, Value] = Field(default_factory=dict)
    #: the options every cell shares (--option and the LLM flags that change answers)
    options: dict[str, Value] = Field(default_factory=dict)
    cells: list[SweepCell] = Field(default_factory=list)
    created: str | None = None
    tool_version: str | None = None
    provenance: Provenance | None = None

    @classmethod
    def read_dir(cls, sweep_dir: Path | str) -> SweepManifest:
        """The manifest of a sweep directory (`SWEEP/sweep.json`)."""
        path = Path(sweep_dir) / NAME
        if not path.exists():
            raise BenchmarkError(f"{sweep_dir} is not a sweep directory (no {NAME})")
        return cls.read(path)


class SweepRow(ScoreRow):
    """A score row of one sweep cell: which cell, and every varied setting's value there."""

    cell: str
    settings: dict[str, Value] = Field(default_factory=dict)


class SweepTable(StoredRecord):
    """What `perrecbench sweep` writes as `sweep-table.json`: one row per cell x method x
    level x metric. `base` holds each varied setting's value in the base cell (one at a
    time: every other cell differs from it in one setting)."""

    FORMAT: ClassVar[int] = 1
    KIND: ClassVar[str] = "sweep table"
    model_config = ConfigDict(frozen=True)

    format_version: int = FORMAT
    model: str
    mode: str = "one-at-a-time"
    axes: dict[str, list[Value]] = Field(default_factory=dict)
    base: dict[str, Value] = Field(default_factory=dict)
    metric: str = "tau-b"
    rows: list[SweepRow] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    provenance: Provenance | None = None
