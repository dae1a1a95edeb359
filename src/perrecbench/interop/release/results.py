"""The authors' prediction files (their parsed answers of one model) as run directories:
this format's parser for the one importer (`interop.run_import`).

A file is `{query_asin: [entry for each group]}`; only the first group of each item
counts, as in their evaluator. A pointwise entry is the predicted 1-5 ratings in member
order; a pair/list entry one best-first list of 1-based user ids; any entry may be the
string "format_not_correct" (their parser could not read the answer).
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

from ... import failures
from ...bench import Benchmark
from ...constants import LEVELS, METHODS
from ...errors import ConfigError
from ...failures import Failure
from ...locking import locked
from ...models.ranking import order_from_scores
from ...records import Prediction
from ...types import Question
from ..run_import import Entry, ImportReport, check_any, refusal, resolve, write_run
from .layout import FAILED_MARK, read_json

#: the report of an import (one class for every format)
ResultsImportReport = ImportReport


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


def _answer(value: Any, method: str, question: Question) -> Prediction:
    return parse_release_entry(value, question, method)


@locked("out_dir")
def import_release_results(
    bench_dir: Path | str,
    pred_file: Path | str,
    method: str,
    level: str,
    model: str,
    out_dir: Path | str,
) -> ImportReport:
    """Turn one of the authors' prediction files into a run directory (split "test").

    The file names items, not questions: each resolves to the item's first group of
    the level; items the level does not have are counted and ignored (their files cover
    every category), and items absent from the file are not written, so the scorer
    counts them as missing. Importing another level into the same run directory adds
    it; importing a level again replaces that level's answers.
    """
    method = "list" if method == "group" else method
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if level not in LEVELS:
        raise ConfigError(f"unknown level {level!r}; choose from {', '.join(LEVELS)}")
    bench = Benchmark(bench_dir)
    questions = {level: bench.questions("test", level)}
    source = Path(pred_file)
    data = read_json(source)
    entries = (
        Entry(k, str(asin), partial(_answer, value, method))
        for k, (asin, value) in enumerate(data.items(), 1)
    )
    answers, problems, unknown = resolve(entries, questions, key_of=lambda q: q.item_id)
    if problems:  # the parser records unreadable answers as failures; kept for the contract
        raise refusal(source, problems)
    check_any(source, answers, f"no item matches a {level} test question of {bench.path}")
    report = write_run(
        bench, questions, answers, out_dir=out_dir, model=model, method=method, split="test", source=source,
        config={"source": "authors-release-results"},
        identity=("model", "method", "split", "bench_fingerprint"),
    )
    report.unknown = unknown
    return report
