"""From what a user asked for (`perrecbench run`'s flags) to jobs for the runner.

The CLI only binds arguments into a `RunRequest`; everything that decides what runs
lives here: which methods and run directories, which flags are LLM options (and that a
model that is not an LLM takes none), one shared model for all methods when it makes
calls, how many questions to keep open -- decided by what the model is
(`models.registry.ModelEntry`), not by its name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..bench import Benchmark
from ..constants import DEFAULT_CONCURRENCY, METHODS, RATING
from ..errors import ConfigError
from ..locking import output_lock
from ..models.base import Recommender
from ..models.registry import ModelEntry, resolve
from ..parsing import parse_key_values
from ..parsing import parse_levels as parse_levels  # where callers of the run stage find it
from ..tasks import DEFAULT_PAIRS
from .runner import (
    Job,
    ProgressFn,
    RunOptions,
    RunSummary,
    questions_at_once,
    run_jobs,
)


def parse_methods(text: str) -> list[str]:
    """`point`, `point,list`, `all` (the three preference methods) or e.g. `all,rating`
    -> methods in the given order, each once."""
    names: list[str] = []
    for m in (m.strip() for m in text.split(",")):
        names += list(METHODS) if m == "all" else [m] if m else []
    known = (*METHODS, RATING)
    bad = [m for m in names if m not in known]
    if bad or not names:
        raise ConfigError(f"unknown --method {text!r}; choose from {', '.join(known)} (comma-separated), "
                          "or all (= point,pair,list)")
    return list(dict.fromkeys(names))


def parse_pairs(text: str | int | None) -> int | None:
    """`--pairs`: a number of rating pairs, or `all` (None)."""
    if text is None or (isinstance(text, str) and text.strip().lower() == "all"):
        return None
    try:
        n = int(text)
    except ValueError:
        raise ConfigError(f"--pairs expects a number or all, got {text!r}") from None
    if n < 1:
        raise ConfigError(f"--pairs must be at least 1 (or all), got {n}")
    return n


def parse_option_pairs(pairs: Sequence[str]) -> dict[str, Any]:
    """`--option key=value`; values are JSON when they parse (3, true, [..]), else strings."""
    return dict(parse_key_values(pairs, "--option"))


def run_dirs_for(out: Path, methods: Sequence[str]) -> list[Path]:
    """Where each method's run goes: OUT for one method; OUT/<method> for several,
    unless OUT contains `{method}`, which is replaced."""
    if "{method}" in str(out):
        return [Path(str(out).replace("{method}", m)) for m in methods]
    if len(methods) == 1:
        return [out]
    return [out / m for m in methods]


@dataclass
class RunRequest:
    """What `perrecbench run` was asked: `llm_flags` are the LLM-only flags that were set
    (None values are dropped), `options` the `--option key=value` pairs. A sweep is a set
    of such runs (`sweep.SweepRequest` holds one). Checked when made: the run's settings by
    `RunOptions`, the flags by what the model is."""

    bench: Path
    model: str
    methods: list[str]
    out: Path
    levels: list[str] | None = None
    split: str = "test"
    limit: int | None = None
    max_concurrency: int = DEFAULT_CONCURRENCY
    reask: str = "transient"
    options: dict[str, Any] = field(default_factory=dict)
    llm_flags: dict[str, Any] = field(default_factory=dict)
    pairs: int | None = DEFAULT_PAIRS  # rating task: pairs asked (None = all)
    rating_seed: int = 0

    def __post_init__(self) -> None:
        self._settings(self.max_concurrency)  # the run's settings are checked where they enter
        self.llm_flags = {k: v for k, v in self.llm_flags.items() if v is not None}
        self.entry: ModelEntry = resolve(self.model)
        if not self.entry.llm and self.llm_flags:
            names = ", ".join("--" + key.replace("_", "-") for key in self.llm_flags)
            raise ConfigError(f"{names}: LLM option(s), not for {self.model}, which is not an LLM; it takes "
                              "--option key=value")

    @classmethod
    def from_text(cls, bench: Path, model: str, method: str, out: Path, levels: str | None, split: str,
                  limit: int | None, max_concurrency: int, reask: str, option: Sequence[str],
                  pairs: str | int | None, pairs_seed: int, llm_flags: dict[str, Any] | None) -> RunRequest:
        """The request of `run`'s and `sweep`'s shared flags, as typed: methods and levels
        comma-separated, `--option key=value` pairs, `--pairs` a number or `all`."""
        return cls(bench=bench, model=model, methods=parse_methods(method), out=out, levels=parse_levels(levels),
                   split=split, limit=limit, max_concurrency=max_concurrency, reask=reask,
                   options=parse_option_pairs(option), pairs=parse_pairs(pairs), rating_seed=pairs_seed,
                   llm_flags=llm_flags or {})

    def _settings(self, slots: int) -> RunOptions:
        return RunOptions(levels=self.levels, split=self.split, max_concurrency=slots, limit=self.limit,
                          reask=self.reask, pairs=self.pairs, rating_seed=self.rating_seed)

    @property
    def run_dirs(self) -> list[Path]:
        return run_dirs_for(self.out, self.methods)

    def model_options(self, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The options the model is created with: `options` and then `settings` (a sweep
        cell's); an LLM also gets the LLM flags and `max_concurrency`, a class that
        declares `max_concurrency` gets it too unless it is set."""
        options = {**self.options, **(settings or {})}
        if self.entry.llm:
            return {**options, **self.llm_flags, "max_concurrency": self.max_concurrency}
        if "max_concurrency" in self.entry.defaults and "max_concurrency" not in options:
            return {**options, "max_concurrency": self.max_concurrency}
        return options

    def questions_at_once(self) -> int:
        """The runner's slots: more than request slots for a model that makes calls."""
        return questions_at_once(self.max_concurrency, self.entry.makes_calls)

    def run_options(self) -> RunOptions:
        """The runner's settings for this request."""
        return self._settings(self.questions_at_once())

    def create_jobs(self) -> tuple[Recommender, list[Job]]:
        """The model (checked: a missing key or SDK stops here, before any run directory
        exists) and one job per method. A model that makes calls is shared by the methods
        (one connection, cache and limiter); one that computes its answers is made per
        method, which keeps its state (e.g. a random stream) per run."""
        options = self.model_options()
        model = self.entry.create(options)
        model.check()
        jobs = [Job(model if (self.entry.makes_calls or i == 0) else self.entry.create(options), m, d)
                for i, (m, d) in enumerate(zip(self.methods, self.run_dirs, strict=True))]
        return model, jobs


def execute(request: RunRequest, progress: ProgressFn | None = None) -> tuple[Recommender, list[RunSummary]]:
    """Run the request; returns the (first) model, for its usage figures, and the summaries.
    The run directories are locked first, before a model starts (`locking`)."""
    with output_lock(*request.run_dirs):
        bench = Benchmark(request.bench)
        model, jobs = request.create_jobs()
        summaries = run_jobs(jobs, bench, request.run_options(), progress=progress)
    return model, summaries
