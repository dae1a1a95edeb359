"""`perrecbench sweep`: one model under a grid of settings, in one process.

Each cell (a combination of settings) is a normal run directory per method,
`OUT/<cell>/<method>`, resumable like `run`. All cells' jobs go to one
`runner.run_jobs` call, so they share the question slots; LLM cells send through one
connection, one set of request slots (`--max-concurrency`, `--rpm`, `--tpm`) and one
cache (`LLMRecommender.share_transport`), so a sweep is never N times the load of a run
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..bench import Benchmark
from ..constants import __version__
from ..errors import BenchmarkError, ConfigError
from ..locking import locked
from ..models.base import Recommender
from ..models.registry import resolve
from ..parsing import parse_key_values, word_list
from ..records import provenance
from ..records.sweep import NAME, SweepCell, SweepManifest
from ..tasks import DEFAULT_PAIRS
from .plan import check_counts
from .reask import check_policy
from .runner import DEFAULT_CONCURRENCY, Job, ProgressFn, RunSummary, run_jobs

MODES = ("one-at-a-time", "grid")
#: LLM settings a sweep may vary: those that change what is asked or answered (not where
#: requests go or how fast: those are shared by every cell)
LLM_AXES = ("profile", "k", "shots", "shots_seed", "cot", "samples", "max_resamples", "rel_rating", "prompt_set",
            "prompt_variant", "pair_strategy", "describe_items", "temperature", "top_p", "max_tokens", "seed",
            "json_mode")
#: what a decoding setting left unset means (the release's decoding)
_LLM_UNSET = {"temperature": 0.1, "top_p": 1.0}
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
    if entry.llm:
        from ..models.llm.options import LLMOptions

        bad = [a for a in axes if a not in LLM_AXES]
        if bad:
            raise ConfigError(f"--vary {', '.join(bad)}: an LLM sweep varies {', '.join(LLM_AXES)}")
        return {a: _LLM_UNSET.get(a, LLMOptions.model_fields[a].default) for a in axes}
    defaults = entry.defaults
    bad = [a for a in axes if a not in defaults]
    if bad:
        raise ConfigError(f"--vary {', '.join(bad)}: {model} has the options {', '.join(defaults) or 'none'}")
    return {a: defaults[a] for a in axes}


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
    """What `perrecbench sweep` was asked: `options` are the settings every cell shares
    (`--option`), `llm_flags` where and how fast requests go (shared by every cell)."""

    bench: Path
    model: str
    methods: list[str]
    out: Path
    axes: dict[str, list[Any]]
    mode: str = "one-at-a-time"
    levels: list[str] | None = None
    split: str = "test"
    limit: int | None = None
    pairs: int | None = DEFAULT_PAIRS
    rating_seed: int = 0
    max_concurrency: int = DEFAULT_CONCURRENCY
    reask: str = "transient"
    options: dict[str, Any] = field(default_factory=dict)
    llm_flags: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_policy(self.reask)
        check_counts(self.limit, self.max_concurrency)
        self.llm_flags = {k: v for k, v in self.llm_flags.items() if v is not None}
        self.entry = resolve(self.model)
        if not self.entry.llm and self.llm_flags:
            names = ", ".join("--" + k.replace("_", "-") for k in self.llm_flags)
            raise ConfigError(f"{names}: LLM option(s), not for {self.model}")
        shared = sorted(set(self.axes) & set(self.options))
        if shared:
            raise ConfigError(f"{', '.join(shared)}: both varied (--vary) and fixed (--option); choose one")

    def base(self) -> dict[str, Any]:
        defaults = axis_defaults(self.model, list(self.axes))
        return {a: self.options.get(a, defaults[a]) for a in self.axes}

    def cells(self) -> list[SweepCell]:
        out = []
        for cell in plan_cells(self.axes, self.base(), self.mode):
            runs = {m: f"{cell.name}/{m}" for m in self.methods}
            out.append(cell.model_copy(update={"runs": runs}))
        return out

    def cell_options(self, cell: SweepCell) -> dict[str, Any]:
        opts = {**self.options, **cell.settings}
        if self.entry.llm:
            opts = {**opts, **self.llm_flags, "max_concurrency": self.max_concurrency}
        elif "max_concurrency" in self.entry.defaults and "max_concurrency" not in opts:
            opts = {**opts, "max_concurrency": self.max_concurrency}
        return opts

    def manifest(self, bench: Benchmark) -> SweepManifest:
        return SweepManifest(
            model=self.model, bench=str(bench.path.resolve()), bench_fingerprint=bench.fingerprint,
            split=self.split, methods=list(self.methods), mode=self.mode, axes=self.axes, base=self.base(),
            options=dict(self.options), cells=self.cells(), tool_version=__version__,
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


def read_manifest(sweep_dir: Path | str) -> SweepManifest:
    path = Path(sweep_dir) / NAME
    if not path.exists():
        raise BenchmarkError(f"{sweep_dir} is not a sweep directory (no {NAME})")
    return SweepManifest.read(path)


def create_models(request: SweepRequest, cells: Sequence[SweepCell]) -> list[tuple[SweepCell, list[Recommender]]]:
    """Per cell, one model per method (a model that computes its answers) or one shared
    by its methods (a model that makes calls); every LLM cell sends through the first
    one's connection, slots and cache. Each is checked (a missing key stops here, before
    any run directory is made)."""
    from ..models.llm.recommender import LLMRecommender

    owner: LLMRecommender | None = None
    entry = request.entry
    out: list[tuple[SweepCell, list[Recommender]]] = []
    for cell in cells:
        options = request.cell_options(cell)
        if entry.makes_calls:
            model = entry.create(options)
            if isinstance(model, LLMRecommender):
                if owner is None:
                    owner = model
                else:
                    model.share_transport(owner)
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
    bench = Benchmark(request.bench)
    manifest = request.manifest(bench)
    check_manifest(request.out, manifest)
    models = create_models(request, manifest.cells)
    write_manifest(request.out, manifest)
    jobs = create_jobs(request, models)
    at_once = request.max_concurrency * 2 if request.entry.makes_calls else request.max_concurrency
    summaries = run_jobs(jobs, bench, levels=request.levels, split=request.split, max_concurrency=at_once,
                         limit=request.limit, reask=request.reask, progress=progress, pairs=request.pairs,
                         rating_seed=request.rating_seed)
    distinct: list[Recommender] = []
    for _, ms in models:
        for m in ms:
            if not any(m is d for d in distinct):
                distinct.append(m)
    return manifest, summaries, distinct
