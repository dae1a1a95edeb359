"""Loading run directories for scoring: the run's manifest, its benchmark, its answers, and
the questions it is scored on.

A run is scored on the questions it was asked (`RunManifest.asked`: a run made with
`--limit 30` is a run of 30 questions, not a model that failed 170), and a question it
was asked but never answered counts as missing. A rating run's questions are the first
`asked` pairs of its benchmark's rating sample with the run's seed (`tasks`). Runs shown side by side that were
asked different questions of the same benchmark are all scored on the questions they
share, and a note says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .. import LEVELS, RATING
from ..bench import Benchmark
from ..errors import BenchmarkError, ConfigError
from ..records import Prediction, RunManifest
from ..run.rundir import RunDir
from ..tasks import rating_questions
from ..types import Question


@dataclass
class LoadedRun:
    """A run directory with its predictions indexed by (level, question id)."""

    path: Path
    manifest: RunManifest
    bench: Benchmark
    predictions: dict[tuple[str, str], Prediction]
    #: per level, the questions the run is scored on (in benchmark order)
    questions: dict[str, list[Question]]
    warnings: list[str] = field(default_factory=list)

    @property
    def model(self) -> str:
        return self.manifest.model

    @property
    def method(self) -> str:
        return self.manifest.method

    @property
    def split(self) -> str:
        return self.manifest.split

    @property
    def levels(self) -> list[str]:
        return list(self.questions)

    @property
    def variant(self) -> str:
        """The recommender's own label; runs recorded before labels existed get the one
        their recommender would write today."""
        if self.manifest.variant is not None:
            return self.manifest.variant
        from ..models.registry import variant_for_config

        return variant_for_config(self.model, self.manifest.recommender_config)


def load_run(run_dir: Path | str, bench: Benchmark | Path | str | None = None) -> LoadedRun:
    """Read a run directory and the benchmark it was run on (or `bench`, which must match)."""
    rd = RunDir(run_dir)
    manifest = rd.read_manifest()
    if bench is None:
        if not manifest.bench:
            raise BenchmarkError(f"{rd.manifest_path} names no benchmark; pass --bench")
        if not Path(manifest.bench).exists():
            raise BenchmarkError(
                f"benchmark {manifest.bench} of run {rd.path} does not exist; pass --bench with its new location"
            )
        bench = Benchmark(manifest.bench)
    elif not isinstance(bench, Benchmark):
        bench = Benchmark(bench)
    expected = manifest.bench_fingerprint
    if expected and expected != bench.fingerprint:
        raise BenchmarkError(
            f"run {rd.path} was made on a different benchmark than {bench.path} "
            f"(fingerprint {expected} vs {bench.fingerprint})"
        )
    split = manifest.split
    records = [r for r in rd.read_predictions() if r.split == split]
    levels = [lv for lv in (*LEVELS, RATING) if lv in set(manifest.levels) | {r.level for r in records}]
    missing_levels = [lv for lv in levels if lv not in bench.available(split) and lv != RATING]
    if missing_levels or (RATING in levels and not bench.available(split)):
        raise BenchmarkError(
            f"{bench.path} has no {split} questions for level(s) {missing_levels or [RATING]} of run {rd.path}"
        )
    preds = {(r.level, r.prediction.question_id): r.prediction for r in records}
    warnings = []
    questions: dict[str, list[Question]] = {}
    for level in levels:
        every = (rating_questions(bench, split, manifest.rating_seed or 0) if level == RATING
                 else bench.questions(split, level))
        known = {q.id for q in every}
        stray = sum(1 for lv, qid in preds if lv == level and qid not in known)
        if stray:
            warnings.append(f"{rd.path}: {stray} {level} answers match no question of {bench.path} (ignored)")
        n = manifest.asked_in(level)
        asked = every if n is None else every[:n]
        questions[level] = asked
        if len(asked) < len(every) and level != RATING:  # the rating task samples by design (--pairs)
            warnings.append(f"{rd.path}: asked {len(asked)} of the {len(every)} {split} {level} questions "
                            "(--limit); scored on those")
        unanswered = sum(1 for q in asked if (level, q.id) not in preds)
        if unanswered and manifest.imported_from:
            warnings.append(f"{rd.path}: {unanswered} of its {len(asked)} {level} questions have no answer in "
                            "the imported file (scored as missing = 0)")
        elif unanswered:
            warnings.append(f"{rd.path}: incomplete, {unanswered} of its {len(asked)} {level} questions have "
                            "no answer (scored as missing = 0); run the same command again to finish it")
    return LoadedRun(Path(run_dir), manifest, bench, preds, questions, warnings)


def expand_run_dirs(run_dirs: Sequence[Path | str]) -> list[Path]:
    """Run directories as given; a folder that is not a run itself but holds runs (the
    OUT of `perrecbench run --method point,pair,list`, a folder of those, a sweep)
    stands for every run below it."""
    out: list[Path] = []
    for rd in map(Path, run_dirs):
        out.extend(_runs_below(rd) or [rd])
    return out


def _runs_below(folder: Path) -> list[Path]:
    if RunDir(folder).exists() or not folder.is_dir():
        return []
    found: list[Path] = []
    for p in sorted(q for q in folder.iterdir() if q.is_dir()):
        found.extend([p] if RunDir(p).exists() else _runs_below(p))
    return found


def load_runs(run_dirs: Sequence[Path | str], bench: Path | str | None = None,
              shared_questions: bool = True) -> list[LoadedRun]:
    """Load several runs, reading each benchmark directory once. With `shared_questions`,
    runs on the same benchmark and split that were asked different questions of a level
    are all scored on the questions every one of them was asked."""
    if not run_dirs:
        raise ConfigError("no run directories given")
    cache: dict[str, Benchmark] = {}
    runs = []
    for rd in expand_run_dirs(run_dirs):
        key = str(bench) if bench is not None else str(RunDir(rd).read_manifest().bench or "")
        run = load_run(rd, cache.get(key) or bench)
        if key:
            cache[key] = run.bench
        runs.append(run)
    if shared_questions:
        restrict_to_shared(runs)
    return runs


def restrict_to_shared(runs: Sequence[LoadedRun]) -> None:
    """Score runs of one benchmark split on the questions of each level they all were asked."""
    groups: dict[tuple[str, str, str], list[LoadedRun]] = {}
    for run in runs:
        for level in run.levels:
            groups.setdefault((run.bench.fingerprint, run.split, level), []).append(run)
    for (_, _, level), group in groups.items():
        ids = [{q.id for q in r.questions[level]} for r in group]
        shared = set.intersection(*ids)
        if all(len(s) == len(shared) for s in ids):
            continue
        sizes = sorted({len(s) for s in ids})
        note = (f"runs were asked different {level} questions ({' vs '.join(map(str, sizes))}): "
                f"all of them are scored on the {len(shared)} they share")
        for r in group:
            r.questions[level] = [q for q in r.questions[level] if q.id in shared]
            r.warnings.append(f"{r.path}: {note}")
