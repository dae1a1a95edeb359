"""The one importer of other systems' answers: a file's entries -> a run directory.

Every input format (the authors' prediction files, JSON Lines, TREC run files) is a
small parser that yields `Entry`s (a key naming a question, and how to build the
answer once the question is known) or `Problem`s (a line it could not read). This
module does the rest, the same for every format: resolve each key to a question of
the split, check the file one-to-one against those questions, build the `Prediction`
records, and write the run directory through `RunDir` with a run manifest. A file
with any problem is refused as a whole: every problem is counted by reason, the first
few are quoted as `file:line: reason`, and nothing is written. A question the file
does not answer is left out of the run, so `score` counts it as missing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..bench import Benchmark
from ..errors import BenchmarkError, InputDataError
from ..records import Prediction, PredictionLine, RunManifest
from ..run.rundir import RunDir
from ..types import Question

#: problems quoted in the error message (all are counted)
EXAMPLES = 5

# reasons a line is refused (the keys its count is reported under)
MALFORMED = "malformed line"
UNKNOWN_QUESTION = "question not in the split"
DUPLICATE = "question given twice"
NOT_MEMBER = "user not in the question's group"
NOT_COVERED = "answer does not name every member once"
UNKNOWN_FAILURE = "unknown failure category"


class LineProblem(Exception):
    """Raised by an entry's answer builder: the line cannot be imported (`reason` is one
    of this module's reasons; `line` overrides the entry's line when the fault is
    elsewhere in a many-line entry)."""

    def __init__(self, reason: str, detail: str, line: int | None = None):
        super().__init__(detail)
        self.reason, self.detail, self.line = reason, detail, line


@dataclass(frozen=True)
class Problem:
    """A line the parser or the checks refused."""

    line: int
    reason: str
    detail: str


@dataclass(frozen=True)
class Entry:
    """One answer of the file: `key` names its question (an id, or for the authors'
    files an item), `answer` builds the Prediction for that question (or raises
    `LineProblem`)."""

    line: int
    key: str
    answer: Callable[[Question], Prediction]


@dataclass
class ImportReport:
    """What an import wrote, per the run's levels."""

    run_dir: Path
    method: str
    split: str
    levels: list[str]
    written: int = 0
    failed: int = 0
    #: keys in the file with no question, where the format tolerates them (the authors' items)
    unknown: int = 0
    missing: int = 0  # questions of the split the file does not answer
    missing_by_level: dict[str, int] = field(default_factory=dict)
    failures: Counter = field(default_factory=Counter)

    @property
    def level(self) -> str:
        """The level of a one-level import (the authors' files)."""
        return self.levels[0]

    @property
    def unknown_items(self) -> int:
        return self.unknown


def refusal(source: Path, problems: Sequence[Problem]) -> InputDataError:
    """One error for every refused line: counts per reason, then the first few lines."""
    counts = Counter(p.reason for p in problems)
    summary = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    lines = sorted(problems, key=lambda p: p.line)[:EXAMPLES]
    quoted = "".join(f"\n  {source}:{p.line}: {p.reason}: {p.detail}" for p in lines)
    more = f"\n  ... and {len(problems) - len(lines)} more" if len(problems) > len(lines) else ""
    return InputDataError(f"{source}: {len(problems)} line(s) refused, nothing written ({summary}){quoted}{more}")


def resolve(
    parsed: Iterable[Entry | Problem],
    questions: Mapping[str, Sequence[Question]],
    key_of: Callable[[Question], str] = lambda q: q.id,
    unknown_key: Callable[[str], str] | None = None,
) -> tuple[list[PredictionLine], list[Problem], int]:
    """Match entries to the questions (per level) one-to-one and build their answers.

    `key_of` is what an entry's key names (the first question per key wins: the
    authors' files name an item, and only its first group counts). An unknown key is a
    problem worded by `unknown_key`, or (None) counted and ignored. Returns the answers,
    the problems and the number of unknown keys ignored.
    """
    index: dict[str, tuple[str, Question]] = {}
    for level, qs in questions.items():
        for q in qs:
            index.setdefault(key_of(q), (level, q))
    answers: list[PredictionLine] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    ignored = 0
    for item in parsed:
        if isinstance(item, Problem):
            problems.append(item)
            continue
        found = index.get(item.key)
        if found is None:
            if unknown_key is None:
                ignored += 1
            else:
                problems.append(Problem(item.line, UNKNOWN_QUESTION, unknown_key(item.key)))
            continue
        if item.key in seen:
            problems.append(Problem(item.line, DUPLICATE, f"{item.key!r} (first at line {seen[item.key]})"))
            continue
        seen[item.key] = item.line
        level, q = found
        try:
            pred = item.answer(q)
        except LineProblem as exc:
            problems.append(Problem(exc.line or item.line, exc.reason, exc.detail))
            continue
        answers.append(PredictionLine(level=level, split=q.split, prediction=pred))
    return answers, problems, ignored


def write_run(
    bench: Benchmark,
    questions: Mapping[str, Sequence[Question]],
    answers: Sequence[PredictionLine],
    *,
    out_dir: Path | str,
    model: str,
    method: str,
    split: str,
    source: Path,
    config: dict[str, Any],
    asked: dict[str, int] | None = None,
    rating_seed: int | None = None,
    identity: tuple[str, ...] = ("model", "method", "split", "bench_fingerprint", "rating_seed"),
) -> ImportReport:
    """Write `answers` as the run of `questions`' levels in `out_dir` (created, or an
    earlier import of the same model/method/split/benchmark, whose answers of these
    levels are replaced and of other levels kept)."""
    levels = list(questions)
    report = ImportReport(Path(out_dir), method, split, levels)
    for r in answers:
        report.written += 1
        if not r.prediction.ok:
            report.failed += 1
            report.failures[str(r.prediction.failure)] += 1
    answered = {(r.level, r.prediction.question_id) for r in answers}
    for level, qs in questions.items():
        report.missing_by_level[level] = sum((level, q.id) not in answered for q in qs)
    report.missing = sum(report.missing_by_level.values())
    resolved = str(source.resolve())
    manifest = RunManifest(
        model=model, method=method, split=split, bench=str(bench.path.resolve()), bench_name=bench.name,
        bench_fingerprint=bench.fingerprint, levels=levels, asked=asked, rating_seed=rating_seed,
        model_config=config, variant="", imported_from={level: resolved for level in levels},
    )
    rd = RunDir(out_dir)
    if rd.exists():  # never overwrite a model's own run, nor mix sources in one directory
        old = rd.read_manifest()
        if not old.imported_from or old.recommender_config.get("source") != config.get("source"):
            raise BenchmarkError(f"{rd.path} already holds a run that was not imported this way (source "
                                 f"{old.recommender_config.get('source', 'a model run')!r}); choose another --out "
                                 "or delete it")
    rd.open_or_create(manifest, identity)
    keep = [r for r in rd.read_predictions(repair=True) if r.level not in set(levels)]
    rd.replace_predictions(keep + list(answers))
    return report


def check_any(source: Path, answers: Sequence[PredictionLine], why: str) -> None:
    """A file that answers none of the questions is a mistake, not an empty run."""
    if not answers:
        raise InputDataError(f"{source}: {why}")
