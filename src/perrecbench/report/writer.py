"""Writes a report folder from its sections:

    DIR/index.html      the page: inline CSS and SVG, no script, nothing from the network
    DIR/figures/        every figure as .svg, .png and .pdf
    DIR/scores.json     the score rows, exactly as `perrecbench score --format json` prints them
    DIR/report.json     every section's data, for re-plotting (plus what the report was made of)

The same runs and options give byte-identical files: nothing on the page depends on
the clock, and figures are saved without dates. Figure files of an earlier report in
DIR that this one does not make are removed, so `figures/` always matches the page.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..constants import LEVELS, __version__
from ..errors import ConfigError
from ..locking import locked
from . import figures as figs
from . import formatting as fmt
from .html import esc, figure_block, inline_svg, page
from .page_data import score_record
from .section import Progress, ReportInputs, Section, no_progress

FIGURE_FORMATS = ("svg", "png", "pdf")


def jsonable(value: Any) -> Any:
    """Plain JSON data from section records: dataclasses and pydantic models as objects
    (with their properties left out), tuple keys joined by "/", NaN as null, paths as text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):
        return jsonable(value.model_dump())
    if isinstance(value, dict):
        return {("/".join(map(str, k)) if isinstance(k, tuple) else str(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


@dataclass(frozen=True)
class ReportFiles:
    index: Path
    figures: tuple[Path, ...]
    scores: Path
    data: Path


def _write(path: Path, data: bytes) -> None:
    """Whole file or nothing: a killed report never leaves half a page."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _benchmarks(inputs: ReportInputs) -> list[dict[str, Any]]:
    """Each benchmark of the runs once: name, path, split and the questions per level scored
    (those the runs were asked, see `score.runs`)."""
    seen: dict[str, dict[str, Any]] = {}
    for run in inputs.runs:
        b = seen.setdefault(str(run.bench.path), {"name": run.bench.name, "path": str(run.bench.path),
                                                  "split": run.split, "questions": {}})
        for lv in run.levels:
            b["questions"][lv] = max(b["questions"].get(lv, 0), len(run.questions[lv]))
    for b in seen.values():
        b["questions"] = {lv: b["questions"][lv] for lv in LEVELS if lv in b["questions"]}
    return list(seen.values())


def _intro(title: str, inputs: ReportInputs) -> str:
    benches = "; ".join(
        f"<code>{esc(b['name'])}</code> ({esc(b['split'])} split, "
        + ", ".join(f"{esc(lv)} {n:,}" for lv, n in b["questions"].items()) + " questions)"
        for b in _benchmarks(inputs))
    return (f"<h1>{esc(title)}</h1>"
            f"<p>{len(inputs.runs):,} runs on {benches or 'no benchmark'} · metric "
            f"<code>{esc(inputs.metric)}</code> · 95% bootstrap intervals from {inputs.resamples:,} "
            f"resamples (seed {inputs.seed})</p>")


def _footer(inputs: ReportInputs) -> str:
    runs = " ".join(esc(str(p)) for p in inputs.paths) or "RUN_DIR..."
    rules = [
        "Rounding: " + esc("; ".join(fmt.RULES)) + ".",
        "Every score is a row of <code>perrecbench score " + runs + f" --metric {esc(inputs.metric)} "
        f"--seed {inputs.seed} --resamples {inputs.resamples} --format json</code>, also saved "
        'beside this page as <a href="scores.json">scores.json</a>; every section\'s data is in '
        '<a href="report.json">report.json</a>. Each cell keeps its unrounded value in '
        "<code>data-*</code> attributes.",
        "With <code>tau-b</code> every model is scored on every question: a failed or missing "
        "answer counts as 0 (chance). <code>official-v1</code> reproduces the released evaluator, "
        "which drops failed groups; <code>official-v2</code> the authors' corrected one (tau between "
        "per-user rank vectors), which drops them too.",
    ]
    return ("<h3>About these numbers</h3><ul>" + "".join(f"<li>{r}</li>" for r in rules)
            + f"</ul><p>Made by perrecbench {esc(__version__)} · "
            'PerRecBench: <a href="https://arxiv.org/abs/2501.13391">Tan et al., 2025</a></p>')


@locked("out_dir")
def write_report(
    out_dir: Path | str,
    inputs: ReportInputs,
    sections: Sequence[Section],
    title: str = "PerRecBench report",
    progress: Progress = no_progress,
) -> ReportFiles:
    """Draw the sections' figures, render the page and write the folder."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a directory")
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    specs = [spec for s in sections for spec in s.figures]
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"report figures share a name: {names}")
    blocks: dict[str, str] = {}
    written: list[Path] = []
    for i, spec in enumerate(specs):
        progress("figures", i, len(specs))
        rendered = figs.render(spec)
        for ext in FIGURE_FORMATS:
            path = fig_dir / f"{spec.name}.{ext}"
            _write(path, getattr(rendered, ext))
            written.append(path)
        blocks[spec.name] = figure_block(spec.name, inline_svg(rendered.svg, spec.name, spec.caption), spec.caption)
    progress("figures", len(specs), len(specs))
    for stale in fig_dir.iterdir():
        if stale.suffix.lstrip(".") in FIGURE_FORMATS and stale not in written:
            stale.unlink()
    progress("writing page", 0, 1)
    parts = []
    for s in sections:
        mine = {spec.name: blocks[spec.name] for spec in s.figures}
        parts.append((s.key, s.title, esc(s.lead), s.render(s.data, mine)))
    index = out / "index.html"
    _write(index, page(title, _intro(title, inputs), parts, _footer(inputs)).encode("utf-8"))
    scores = out / "scores.json"
    _write(scores, (json.dumps([score_record(r) for r in inputs.rows], indent=2) + "\n").encode("utf-8"))
    data = out / "report.json"
    doc = {
        "tool_version": __version__, "title": title, "metric": inputs.metric, "seed": inputs.seed,
        "resamples": inputs.resamples, "runs": [str(r.path) for r in inputs.runs],
        "benchmarks": _benchmarks(inputs), "rounding": list(fmt.RULES),
        "figures": {spec.name: [f"figures/{spec.name}.{ext}" for ext in FIGURE_FORMATS] for spec in specs},
        "sections": {s.key: jsonable(s.data) for s in sections},
    }
    _write(data, (json.dumps(doc, indent=2, allow_nan=False) + "\n").encode("utf-8"))
    progress("writing page", 1, 1)
    return ReportFiles(index, tuple(written), scores, data)
