"""`perrecbench sweep`: one model under a grid of settings, in one process.

Each cell (a combination of settings) is a normal run directory per method,
`OUT/<cell>/<method>`, resumable like `run`. All cells' jobs go to one
`runner.run_jobs` call, so they share the question slots; LLM cells send through one
connection, one set of request slots (`--max-concurrency`, `--rpm`, `--tpm`) and one
cache (`models.llm.connection`: cells with equal connection keys), so a sweep is never N times the load of a run
and a request two cells have in common is asked once.

Modes: one at a time (default; the paper's ablations) -- a base cell (the model's
defaults and `--option`s) plus, for each varied setting, a cell per other value with
everything else at base; or `grid` -- every combination. `SweepManifest` (sweep.json)
records the plan before anything runs.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..bench import Benchmark
from ..constants import __version__
from ..errors import BenchmarkError, ConfigError
from ..locking import locked
from ..models.base import Recommender
from ..models.registry import ModelEntry, resolve
from ..parsing import parse_key_values, word_list
from ..records import provenance
from ..records.sweep import NAME, SweepCell, SweepManifest
from .plan import RunRequest
from .runner import Job, ProgressFn, RunSummary, distinct_models, run_jobs

MODES = ("one-at-a-time", "grid")
def parse_axis(text: str) -> tuple[str, list[Any]]:
    """`k=1,2,4` -> ("k", [1, 2, 4]) (each value once, in the given order)."""
    [(name, values)] = parse_key_values([text], "--vary", word_list, expects="SETTING=V1,V2,...", need_value=True)
    return name, values


def value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return "none" if value is None else str(value)


def cell_name(settings: dict[str, Any]) -> str:
    """A directory name for a cell: `k=8`, `k=8,shots=2` (unsafe characters become `_`)."""
    text = ",".join(f"{k}={value_text(v)}" for k, v in settings.items()) or "base"
    return re.sub(r"[^A-Za-z0-9._=,+-]", "_", text)


def axis_defaults(model: str, axes: Sequence[str]) -> dict[str, Any]:
    """Each setting's value when it is not set; an unknown setting is an error naming those
    a sweep of this model can vary."""
    entry = resolve(model)
    if entry.llm:  # the options declared sweepable (those that change what is asked or answered)
        from ..models.llm.options import SWEEP_AXES, unset_value

        bad = [a for a in axes if a not in SWEEP_AXES]
        if bad:
            raise ConfigError(f"--vary {', '.join(bad)}: an LLM sweep varies {', '.join(SWEEP_AXES)}")
        return {a: unset_value(a) for a in axes}
    from ..models.options import declared

    specs = {name: s for name, s in declared(entry.declaration).items() if s.sweep}
    bad = [a for a in axes if a not in specs]
    if bad:
        raise ConfigError(f"--vary {', '.join(bad)}: {model} has the options {', '.join(specs) or 'none'}")
    return {a: specs[a].default for a in axes}


def plan_cells(axes: dict[str, list[Any]], base: dict[str, Any], mode: str = "one-at-a-time") -> list[SweepCell]:
    """The cells of a sweep (settings of the varied axes only), each once, base first."""
    if mode not in MODES:
        raise ConfigError(f"--mode {mode!r}: choose from {', '.join(MODES)}")
    if not axes:
        raise ConfigError("nothing to vary: give --vary SETTING=V1,V2,...")
    combos: list[dict[str, Any]] = []
    if mode == "grid":
        combos = [dict(zip(axes, values, strict=True)) for values in itertools.product(*axes.values())]
    else:
        combos.append(dict(base))
        for axis, values in axes.items():
            combos += [{**base, axis: v} for v in values if v != base[axis]]
    cells, seen = [], set()
    for settings in combos:
        key = json.dumps(settings, sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        if mode == "grid":
            name = cell_name(settings)
        else:
            changed = {a: v for a, v in settings.items() if v != base[a]}
            name = cell_name(changed) if changed else "base"
        cells.append(SweepCell(name=name, settings=settings))
    return cells


@dataclass
class SweepRequest:
    """What `perrecbench sweep` was asked: a sweep is a set of runs, so it holds the
    `RunRequest` every cell makes (checked there: its `options` are the settings every
    cell shares, its `llm_flags` where and how fast requests go, shared by every cell)
    and the settings varied (`axes`, `mode`)."""

    run: RunRequest
    axes: dict[str, list[Any]]
    mode: str = "one-at-a-time"

    def __post_init__(self) -> None:
        shared = sorted(set(self.axes) & set(self.run.options))
        if shared:
            raise ConfigError(f"{', '.join(shared)}: both varied (--vary) and fixed (--option); choose one")

    @property
    def entry(self) -> ModelEntry:
        return self.run.entry

    @property
    def methods(self) -> list[str]:
        return self.run.methods

    @property
    def out(self) -> Path:
        return self.run.out

    def base(self) -> dict[str, Any]:
        defaults = axis_defaults(self.run.model, list(self.axes))
        return {a: self.run.options.get(a, defaults[a]) for a in self.axes}

    def cells(self) -> list[SweepCell]:
        out = []
        for cell in plan_cells(self.axes, self.base(), self.mode):
            runs = {m: f"{cell.name}/{m}" for m in self.methods}
            out.append(cell.model_copy(update={"runs": runs}))
        return out

    def cell_options(self, cell: SweepCell) -> dict[str, Any]:
        """The options a cell's model is created with: the run's, with the cell's settings."""
        return self.run.model_options(cell.settings)

    def manifest(self, bench: Benchmark) -> SweepManifest:
        return SweepManifest(
            model=self.run.model, bench=str(bench.path.resolve()), bench_fingerprint=bench.fingerprint,
            split=self.run.split, methods=list(self.methods), mode=self.mode, axes=self.axes, base=self.base(),
            options=dict(self.run.options), cells=self.cells(), tool_version=__version__,
        )


def check_manifest(out: Path, manifest: SweepManifest) -> SweepManifest | None:
    """The sweep already in OUT, if any; a folder that holds another model's or benchmark's
    sweep is refused (its run directories would refuse too, one by one)."""
    path = Path(out) / NAME
    if not path.exists():
        return None
    old = SweepManifest.read(path)
    if (old.model, old.bench_fingerprint, old.split) != (manifest.model, manifest.bench_fingerprint, manifest.split):
        raise BenchmarkError(f"{out} holds a sweep of {old.model} on another benchmark or split; choose "
                             "another --out")
    return old


def write_manifest(out: Path, manifest: SweepManifest) -> SweepManifest:
    """Create or update OUT/sweep.json (the plan of the latest invocation; `created` stays)."""
    old = check_manifest(out, manifest)
    created = (old.created if old else None) or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    record = manifest.model_copy(update={"created": created, "provenance": provenance.current()})
    record.write(Path(out) / NAME)
    return record


def create_models(request: SweepRequest, cells: Sequence[SweepCell]) -> list[tuple[SweepCell, list[Recommender]]]:
    """Per cell, one model per method (a model that computes its answers) or one shared
    by its methods (a model that makes calls); LLM cells share one connection pool, so
    cells whose connection keys are equal (one model, server and cache: every cell, as
    `--vary` changes only what is asked) send through one connection, slots and cache.
    Each is checked (a missing key stops here, before any run directory is made)."""
    from ..models.llm.connection import ConnectionPool
    from ..models.llm.recommender import LLMRecommender

    pool = ConnectionPool()
    entry = request.entry
    out: list[tuple[SweepCell, list[Recommender]]] = []
    for cell in cells:
        options = request.cell_options(cell)
        if entry.makes_calls:
            model = entry.create(options)
            if isinstance(model, LLMRecommender):
                model.pool = pool
            model.check()
            out.append((cell, [model for _ in request.methods]))
        else:
            models = [entry.create(options) for _ in request.methods]
            out.append((cell, models))
    return out


def create_jobs(request: SweepRequest, models: Sequence[tuple[SweepCell, list[Recommender]]]) -> list[Job]:
    return [Job(model, method, request.out / cell.runs[method])
            for cell, ms in models for model, method in zip(ms, request.methods, strict=True)]


@locked(lambda args: args["request"].out)  # the sweep directory; each cell also locks its runs
def execute(request: SweepRequest, progress: ProgressFn | None = None) -> tuple[SweepManifest, list[RunSummary],
                                                                                list[Recommender]]:
    """Run every cell not yet complete; returns the manifest, the summaries and the models
    (for their usage figures)."""
    bench = Benchmark(request.run.bench)
    manifest = request.manifest(bench)
    check_manifest(request.out, manifest)
    models = create_models(request, manifest.cells)
    write_manifest(request.out, manifest)
    jobs = create_jobs(request, models)
    summaries = run_jobs(jobs, bench, request.run.run_options(), progress=progress)
    return manifest, summaries, distinct_models(m for _, ms in models for m in ms)
