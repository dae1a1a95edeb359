"""The authors' prediction files (their parsed answers of one model) as run directories.

A file is `{query_asin: [entry for each group]}`; only the first group of each item
counts, as in their evaluator. A pointwise entry is the predicted 1-5 ratings in member
order; a pair/list entry one best-first list of 1-based user ids; any entry may be the
string "format_not_correct" (their parser could not read the answer).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ... import LEVELS, METHODS, failures
from ...bench import Benchmark
from ...errors import ConfigError, InputDataError
from ...failures import Failure
from ...locking import locked
from ...models.ranking import order_from_scores
from ...records import Prediction, PredictionLine, RunManifest
from ...run.rundir import RunDir
from ...types import Question
from .layout import FAILED_MARK, read_json


@dataclass
class ResultsImportReport:
    run_dir: Path
    level: str
    method: str
    written: int = 0
    failed: int = 0
    unknown_items: int = 0  # in the file, not in the benchmark level
    missing: int = 0  # in the benchmark level, not in the file
    failures: Counter = field(default_factory=Counter)


def _failed(qid: str, failure: Failure, raw: Any, why: str) -> Prediction:
    return Prediction.failed(qid, failure, f"{why}: {json.dumps(raw)[:200]}", raw=raw)


def parse_release_entry(value: Any, question: Question, method: str) -> Prediction:
    """One item's value from a release prediction file -> Prediction (first group only).

    point: `[[r1, ..., rn]]` predicted ratings in member order; pair/list: `[[[ids]]]`
    best-first 1-based ids. "format_not_correct" anywhere marks a failed answer.
    """
    qid, n = question.id, question.n
    if value == FAILED_MARK:
        return _failed(qid, failures.NO_ANSWER, value, FAILED_MARK)
    if isinstance(value, str) or not isinstance(value, list) or not value:
        return _failed(qid, failures.INVALID_ANSWER, value, "not a list of group entries")
    entry = value[0]
    if method == "point":
        if isinstance(entry, str) or (isinstance(entry, list) and any(isinstance(x, str) for x in entry)):
            return _failed(qid, failures.NO_ANSWER, entry, FAILED_MARK)
        if not isinstance(entry, list) or not all(isinstance(x, (int, float)) for x in entry):
            return _failed(qid, failures.INVALID_ANSWER, entry, "not a list of ratings")
        if len(entry) != n:
            return _failed(qid, failures.INVALID_ANSWER, entry, f"{len(entry)} ratings for {n} users")
        ratings = [float(x) for x in entry]
        scores = [r - m.avg_rating for r, m in zip(ratings, question.users, strict=True)]
        return Prediction(question_id=qid, order=order_from_scores(scores), scores=scores, ratings=list(ratings),
                          raw=entry)
    ids = entry[0] if isinstance(entry, list) and entry and isinstance(entry[0], (list, str)) else entry
    if isinstance(ids, str):
        return _failed(qid, failures.NO_ANSWER, entry, FAILED_MARK)
    if not isinstance(ids, list) or sorted(x if isinstance(x, int) else -1 for x in ids) != list(range(1, n + 1)):
        return _failed(qid, failures.NOT_A_PERMUTATION, entry, f"not a ranking of users 1..{n}")
    return Prediction(question_id=qid, order=[i - 1 for i in ids], raw=ids)


@locked("out_dir")
def import_release_results(
    bench_dir: Path | str,
    pred_file: Path | str,
    method: str,
    level: str,
    model: str,
    out_dir: Path | str,
) -> ResultsImportReport:
    """Turn one of the authors' prediction files into a run directory (split "test").

    Items absent from the file are not written, so the scorer counts them as missing.
    Importing another level into the same run directory adds it; importing a level
    again replaces that level's answers.
    """
    method = "list" if method == "group" else method
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if level not in LEVELS:
        raise ConfigError(f"unknown level {level!r}; choose from {', '.join(LEVELS)}")
    bench = Benchmark(bench_dir)
    by_item: dict[str, Question] = {}
    for q in bench.questions("test", level):
        by_item.setdefault(q.item_id, q)
    data = read_json(Path(pred_file))
    rd = RunDir(out_dir)
    report = ResultsImportReport(Path(out_dir), level, method)
    new: list[PredictionLine] = []
    for asin, value in data.items():
        found = by_item.get(str(asin))
        if found is None:
            report.unknown_items += 1
            continue
        q = found
        pred = parse_release_entry(value, q, method)
        new.append(PredictionLine(level=level, split="test", prediction=pred))
        report.written += 1
        if not pred.ok:
            report.failed += 1
            report.failures[str(pred.failure)] += 1
    report.missing = len(by_item) - len({r.prediction.question_id for r in new})
    if not new:
        raise InputDataError(
            f"{pred_file}: no item matches a {level} test question of {bench.path}"
        )
    manifest = RunManifest(
        model=model, method=method, split="test", bench=str(bench.path.resolve()), bench_name=bench.name,
        bench_fingerprint=bench.fingerprint, levels=[level], asked=None,
        model_config={"source": "authors-release-results"}, variant="",
        imported_from={level: str(Path(pred_file).resolve())},
    )
    rd.open_or_create(manifest, ("model", "method", "split", "bench_fingerprint"))
    keep = [r for r in rd.read_predictions(repair=True) if r.level != level]
    rd.replace_predictions(keep + new)
    return report
