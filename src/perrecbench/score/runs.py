"""Loading run directories for scoring: the run's manifest, its benchmark, its answers, and
the questions it is scored on.

A run is scored on the questions it was asked (`RunManifest.asked`: a run made with
`--limit 30` is a run of 30 questions, not a model that failed 170), and a question it
was asked but never answered counts as missing. A rating run's questions are the first
`asked` pairs of its benchmark's rating sample with the run's seed (`tasks`). Runs shown side by side that were
asked different questions of the same benchmark are all scored on the questions they
share, and a note says so.

A table with one row per model (`leaderboard`, `score`, `report`) takes one run per
cell: when two runs of the same model and variant answered the same level and method of
the same benchmark (the README's tour run `runs/cf-list` beside `runs/ml/cf/list`), the
run that asked more of the level's questions fills the cell, then the newer (`created`),
then the one given last; the other is left out of that cell, and a note names both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..bench import Benchmark
from ..constants import LEVELS, RATING
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
    #: notes on the runs this one replaced in a cell (`one_run_per_cell`)
    superseded: list[str] = field(default_factory=list)

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
        their recommender would write today. A run with a LoRA adapter always names it
        (runs recorded before the label did get it added), so the base model and each
        adapter are rows of their own."""
        from ..models.registry import adapter_label, variant_for_config

        recorded = self.manifest.variant
        if recorded is None:
            return variant_for_config(self.model, self.manifest.recommender_config)
        adapter = adapter_label(self.manifest.recommender_config)
        if adapter and adapter not in recorded:
            return f"{recorded}, {adapter}" if recorded else adapter
        return recorded

    @property
    def label(self) -> str:
        """The model with its variant, as leaderboards name rows (`ScoreRow.label`)."""
        return f"{self.model} [{self.variant}]" if self.variant else self.model


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
    for p in sorted(q for q in folder.iterdir() if q.is_dir() and not q.name.startswith(".")):
        found.extend([p] if RunDir(p).exists() else _runs_below(p))
    return found


def load_runs(run_dirs: Sequence[Path | str], bench: Path | str | None = None,
              shared_questions: bool = True, one_per_cell: bool = False,
              benches: dict[str, Benchmark] | None = None) -> list[LoadedRun]:
    """Load several runs, reading each benchmark directory once. With `shared_questions`,
    runs on the same benchmark and split that were asked different questions of a level
    are all scored on the questions every one of them was asked. With `one_per_cell`,
    two runs that fill the same cell of a model's row are resolved first
    (`one_run_per_cell`), so a left-out run does not narrow the others' questions.
    `benches` (benchmark path -> loaded benchmark) is shared by callers that load runs
    more than once (the report: its runs and each sweep's), so each is read once."""
    if not run_dirs:
        raise ConfigError("no run directories given")
    cache: dict[str, Benchmark] = {} if benches is None else benches
    runs = []
    for rd in expand_run_dirs(run_dirs):
        key = str(bench) if bench is not None else str(RunDir(rd).read_manifest().bench or "")
        run = load_run(rd, cache.get(key) or bench)
        if key:
            cache[key] = run.bench
        runs.append(run)
    if one_per_cell:
        runs = one_run_per_cell(runs)
    if shared_questions:
        restrict_to_shared(runs)
    return runs


def _precedence(run: LoadedRun, level: str, order: int) -> tuple[int, str, int]:
    """Who fills a contested cell: more questions asked, then newer, then given later."""
    return (len(run.questions[level]), run.manifest.created or "", order)


def one_run_per_cell(runs: Sequence[LoadedRun]) -> list[LoadedRun]:
    """One run per (model and variant, level, method) of a benchmark split: a run that
    loses every cell it shares is left out, one that loses some keeps its other levels.
    The note (in the kept run's `warnings` and `superseded`) names both directories. A
    directory given twice (`runs/ml runs/ml/cf`) is one run."""
    unique = {r.path.resolve(): r for r in reversed(runs)}  # the first of each directory
    runs = [r for r in runs if unique[r.path.resolve()] is r]
    claims: dict[tuple[str, str, str, str, str], list[int]] = {}
    for i, run in enumerate(runs):
        for level in run.levels:
            key = (run.bench.fingerprint, run.split, run.label, level, run.method)
            claims.setdefault(key, []).append(i)
    lost: dict[tuple[int, int], list[tuple[str, int, int]]] = {}  # (kept, dropped) -> (level, asked, asked)
    for (*_, level, _), idx in claims.items():
        if len(idx) < 2:
            continue
        winner = max(idx, key=lambda i: _precedence(runs[i], level, i))
        for i in idx:
            if i != winner:
                lost.setdefault((winner, i), []).append(
                    (level, len(runs[winner].questions[level]), len(runs[i].questions[level])))
    for (k, d), cells in lost.items():
        kept, dropped = runs[k], runs[d]
        for level, _, _ in cells:
            dropped.questions.pop(level, None)
        more = [(n_k, n_d) for _, n_k, n_d in cells if n_k != n_d]
        why = (f"it asked more questions ({more[0][0]} vs {more[0][1]})" if more
               else "newer" if (kept.manifest.created or "") != (dropped.manifest.created or "")
               else "given later")
        levels = "/".join(level for level, _, _ in cells)
        cell = "cell" if len(cells) == 1 else "cells"
        note = (f"{kept.label} {kept.method} {levels}: {kept.path} and {dropped.path} fill the same {cell}; "
                f"kept {kept.path} ({why}; rule: more questions asked, then newer)")
        kept.warnings.append(note)
        kept.superseded.append(note)
    return [r for r in runs if r.questions]


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
