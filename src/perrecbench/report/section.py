"""The contract of a report section: the one thing an analysis adds to get onto the page.

The page is a list of sections. Each is three small parts:

* `data`: a typed record (a frozen dataclass, or a pydantic model) holding every number
  the section shows. It is written to `report.json` under the section's `key`, so a
  reader can re-plot without parsing HTML, and it is all the renderer and figures see.
* `render(data, figures) -> str`: the section's HTML body. `figures` maps each of its
  figure names to a ready block (inline SVG, caption, links to the SVG/PNG/PDF files);
  place them where they belong. Use `report.html` for tables and escaping, and
  `report.formatting` for every number, with its unrounded value in a `data-*` attribute.
* `figures`: `FigureSpec`s, each a function `draw(data) -> matplotlib Figure` (build it
  with `report.figures.new_figure`, so the style and determinism are shared). The writer
  saves each as `figures/<name>.svg|.png|.pdf` and inlines the SVG in the page.

A *builder* makes a section from the report's inputs, or returns None when its inputs
are absent (a report without rating runs has no correlation section). `report.collect`
holds the list of builders; adding an analysis to the report is one builder there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for annotations: matplotlib is imported where figures are drawn
    from matplotlib.figure import Figure

    from ..records import ScoreRow
    from ..score.runs import LoadedRun
    from ..score.sweep_table import LoadedSweep
    from .reference import ReferenceRow

#: a stage name, the items done and the items in all (the CLI draws it on stderr)
Progress = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
    """The default progress callback: report nothing."""


@dataclass(frozen=True)
class FigureSpec:
    """One figure: `draw(data)` returns a matplotlib Figure, saved as figures/<name>.*."""

    name: str  # file stem: lowercase letters, digits and dashes
    caption: str  # one sentence under the figure: what it shows and how to read it
    draw: Callable[[Any], Figure]
    data: Any


@dataclass(frozen=True)
class Section:
    """One block of the page, with its own anchor, JSON entry and figures."""

    key: str  # anchor id and `report.json` key: lowercase letters, digits and dashes
    title: str
    data: Any
    render: Callable[[Any, Mapping[str, str]], str]
    figures: tuple[FigureSpec, ...] = ()
    lead: str = ""  # one sentence under the title: what to look at first


@dataclass(frozen=True)
class ReportInputs:
    """What every builder may use.

    `rows` are exactly what `perrecbench score --format json` prints for `runs` with the
    same `metric`, `seed` and `resamples`, so sections that show them agree with it.
    `paths` are the run directories as the user gave them (before a folder of runs was
    expanded into its runs); `sweeps` the sweep directories (`SWEEP/sweep.json`) among
    them or given with `--sweep`, loaded with their cells' runs; `breakdowns` what the breakdown section breaks the runs
    down by (`score.breakdown.BY`; empty: no breakdown).
    """

    runs: Sequence[LoadedRun]
    rows: Sequence[ScoreRow]
    metric: str
    seed: int
    resamples: int
    reference: Sequence[ReferenceRow] | None = None
    paths: Sequence[Path] = field(default_factory=tuple)
    sweeps: Sequence[LoadedSweep] = field(default_factory=tuple)
    breakdowns: Sequence[str] = field(default_factory=tuple)


#: makes a section from the inputs, or returns None when its inputs are absent
SectionBuilder = Callable[[ReportInputs, Progress], "Section | None"]
