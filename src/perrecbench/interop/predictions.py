"""Predictions from any system (`perrecbench import-predictions`): two small parsers,
JSON Lines and TREC run files, for the one importer (`interop.run_import`).

JSON Lines, one object per line, keyed by question id:

    {"question_id": Q, "order": [user_id, ...]}        pair/list: best first
    {"question_id": Q, "scores": {user_id: x, ...}}     pair/list: higher = likes more
    {"question_id": Q, "ratings": {user_id: r, ...}}    point, and the rating task
    {"question_id": Q, "failure": "<category>"}         the system could not answer

A TREC run file (as trec_eval and ranx read it) has `question_id Q0 user_id rank score
tag` lines; a question's order is by score, highest first, and the rank column breaks
ties. Every answer names each member of its group exactly once; a failure category
comes from `perrecbench.failures`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

from .. import failures
from ..bench import Benchmark
from ..constants import METHODS, RATING, SPLITS
from ..errors import BenchmarkError, ConfigError, InputDataError
from ..locking import locked
from ..models.ranking import order_from_scores
from ..records import Prediction
from ..tasks import DEFAULT_PAIRS, rating_questions
from ..types import Question
from .run_import import (
    MALFORMED,
    NOT_COVERED,
    NOT_MEMBER,
    UNKNOWN_FAILURE,
    Entry,
    ImportReport,
    LineProblem,
    Problem,
    check_any,
    refusal,
    resolve,
    write_run,
)

FORMATS = ("jsonl", "trec")
#: the answer field each method takes (JSON Lines)
ANSWER_FIELDS = {"point": ("ratings",), "pair": ("order", "scores"), "list": ("order", "scores"),
                 RATING: ("ratings",)}
_ALL_FIELDS = {"question_id", "failure", "failure_detail", "order", "scores", "ratings"}


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for k, v in pairs:
        if k in seen:
            raise ValueError(f"key {k!r} given twice")
        seen[k] = v
    return seen


def _by_member(q: Question, values: dict[str, Any], what: str) -> list[float]:
    """Per-member values in member order from `{user_id: value}`; every member once."""
    members = [m.user_id for m in q.users]
    strangers = [u for u in values if u not in members]
    if strangers:
        raise LineProblem(NOT_MEMBER, f"{strangers[0]!r} is not in the group of {q.id!r}")
    absent = [u for u in members if u not in values]
    if absent:
        raise LineProblem(NOT_COVERED, f"no {what} for {', '.join(map(repr, absent))} of {q.id!r}")
    bad = [u for u in members if not _number(values[u])]
    if bad:
        raise LineProblem(MALFORMED, f"{what} of {bad[0]!r} is not a finite number: {values[bad[0]]!r}")
    return [float(values[u]) for u in members]


def _order(q: Question, ids: list[Any]) -> list[int]:
    members = [m.user_id for m in q.users]
    strangers = [u for u in ids if u not in members]
    if strangers:
        raise LineProblem(NOT_MEMBER, f"{strangers[0]!r} is not in the group of {q.id!r}")
    if sorted(ids) != sorted(members):
        twice = sorted({u for u in ids if ids.count(u) > 1})
        absent = [u for u in members if u not in ids]
        why = f"{', '.join(map(repr, twice))} named twice" if twice else f"{', '.join(map(repr, absent))} not named"
        raise LineProblem(NOT_COVERED, f"order of {q.id!r}: {why}")
    return [members.index(u) for u in ids]


def answer_from_json(obj: dict[str, Any], q: Question, method: str) -> Prediction:
    """One JSON Lines answer as the Prediction for question `q`."""
    qid = q.id
    if "failure" in obj:
        name = obj["failure"]
        category = failures.BY_NAME.get(name) if isinstance(name, str) else None
        if category is None:
            raise LineProblem(UNKNOWN_FAILURE, f"{name!r}; choose from {', '.join(failures.BY_NAME)}")
        detail = obj.get("failure_detail")
        return Prediction.failed(qid, category, detail if isinstance(detail, str) else None)
    if "order" in obj:
        return Prediction(question_id=qid, order=_order(q, obj["order"]), raw=obj["order"])
    if "scores" in obj:
        scores = _by_member(q, obj["scores"], "score")
        return Prediction(question_id=qid, order=order_from_scores(scores), scores=scores)
    ratings = _by_member(q, obj["ratings"], "rating")
    if method == RATING:
        return Prediction(question_id=qid, ratings=ratings)
    scores = [r - m.avg_rating for r, m in zip(ratings, q.users, strict=True)]
    return Prediction(question_id=qid, order=order_from_scores(scores), scores=scores, ratings=list(ratings))


def _json_answer(obj: dict[str, Any], method: str, q: Question) -> Prediction:
    return answer_from_json(obj, q, method)


def _json_line(text: str, method: str) -> dict[str, Any]:
    """A line's object, its shape checked (members are checked once its question is known)."""
    try:
        obj = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except ValueError as exc:
        raise ValueError(f"not a JSON object ({exc})") from None
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    if not isinstance(obj.get("question_id"), str) or not obj["question_id"]:
        raise ValueError('no "question_id" string')
    unknown = sorted(set(obj) - _ALL_FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(map(repr, unknown))}")
    allowed = ANSWER_FIELDS[method]
    given = [k for k in ("order", "scores", "ratings") if k in obj]
    if "failure" in obj:
        if given:
            raise ValueError(f'"failure" together with an answer ({given[0]!r})')
        return obj
    if "failure_detail" in obj:
        raise ValueError('"failure_detail" without "failure"')
    if len(given) != 1 or given[0] not in allowed:
        wanted = " or ".join(f'"{k}"' for k in allowed)
        raise ValueError(f'a {method} answer needs exactly one of {wanted} (or "failure"), got '
                         f"{', '.join(given) or 'none'}")
    value = obj[given[0]]
    if given[0] == "order":
        if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
            raise ValueError('"order" is not a list of user id strings')
    elif not isinstance(value, dict):
        raise ValueError(f'"{given[0]}" is not an object of user id -> number')
    return obj


def parse_jsonl(path: Path, method: str) -> Iterator[Entry | Problem]:
    """Entries of a JSON Lines predictions file (blank lines are skipped)."""
    for lineno, text in enumerate(_lines(path), 1):
        if not text.strip():
            continue
        try:
            obj = _json_line(text, method)
        except ValueError as exc:
            yield Problem(lineno, MALFORMED, str(exc))
            continue
        yield Entry(lineno, obj["question_id"], partial(_json_answer, obj, method))


def parse_trec(path: Path, method: str) -> Iterator[Entry | Problem]:
    """Entries of a TREC run file: one per question id, its lines gathered wherever they are."""
    rows: dict[str, list[tuple[int, str, int, float]]] = {}
    for lineno, text in enumerate(_lines(path), 1):
        if not text.strip():
            continue
        cols = text.split()
        if len(cols) != 6:
            yield Problem(lineno, MALFORMED, f"{len(cols)} columns, expected 6: question_id Q0 user_id rank score tag")
            continue
        qid, _, uid, rank_text, score_text, _ = cols
        try:
            rank, score = int(rank_text), float(score_text)
        except ValueError:
            yield Problem(lineno, MALFORMED, f"rank {rank_text!r} is not an integer or score {score_text!r} "
                                             "is not a number")
            continue
        if not math.isfinite(score):
            yield Problem(lineno, MALFORMED, f"score {score_text!r} is not finite")
            continue
        rows.setdefault(qid, []).append((lineno, uid, rank, score))
    for qid, lines in rows.items():
        yield Entry(lines[0][0], qid, partial(answer_from_trec, lines))


def answer_from_trec(lines: list[tuple[int, str, int, float]], q: Question) -> Prediction:
    """A question's TREC lines as its order: score descending, then rank ascending."""
    members = [m.user_id for m in q.users]
    seen: dict[str, int] = {}
    for lineno, uid, _, _ in lines:
        if uid not in members:
            raise LineProblem(NOT_MEMBER, f"{uid!r} is not in the group of {q.id!r}", lineno)
        if uid in seen:
            raise LineProblem(NOT_COVERED, f"{uid!r} ranked twice for {q.id!r} (first at line {seen[uid]})",
                              lineno)
        seen[uid] = lineno
    absent = [u for u in members if u not in seen]
    if absent:
        raise LineProblem(NOT_COVERED, f"{q.id!r} does not rank {', '.join(map(repr, absent))}")
    ranked = sorted(lines, key=lambda row: (-row[3], row[2]))
    scores = {uid: score for _, uid, _, score in lines}
    return Prediction(question_id=q.id, order=[members.index(uid) for _, uid, _, _ in ranked],
                      scores=[scores[u] for u in members])


PARSERS = {"jsonl": parse_jsonl, "trec": parse_trec}


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputDataError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputDataError(f"{path}: cannot read ({exc})") from exc


def split_questions(bench: Benchmark, method: str, split: str, pairs: int | None,
                    pairs_seed: int) -> dict[str, list[Question]]:
    """The questions a file of `method` answers: every level of the split, or the first
    `pairs` of the split's rating sample (as `run --method rating` and `export-questions`)."""
    if method == RATING:
        pool = rating_questions(bench, split, pairs_seed)
        return {RATING: pool if pairs is None else pool[:pairs]}
    return {level: bench.questions(split, level) for level in bench.available(split)}


@locked("out_dir")
def import_predictions(
    bench_dir: Path | str,
    pred_file: Path | str,
    method: str,
    model: str,
    out_dir: Path | str,
    fmt: str = "jsonl",
    split: str = "test",
    pairs: int | None = DEFAULT_PAIRS,
    pairs_seed: int = 0,
) -> ImportReport:
    """Check a predictions file one-to-one against the split and write it as a run
    directory for `perrecbench score`; any bad line refuses the whole file."""
    if method not in (*METHODS, RATING):
        raise ConfigError(f"unknown method {method!r}; choose from {', '.join((*METHODS, RATING))}")
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    if fmt == "trec" and method in ("point", RATING):
        raise ConfigError(f"a TREC run file holds rankings, not ratings: use --format jsonl for --method {method}")
    if not model.strip():
        raise ConfigError("--model must name the system (the run's label)")
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    bench = Benchmark(bench_dir)
    if not bench.available(split):
        raise BenchmarkError(f"{bench.path} has no {split} questions")
    questions = split_questions(bench, method, split, pairs, pairs_seed)
    source = Path(pred_file)
    if method == RATING:
        sample = "every" if pairs is None else f"the first {pairs}"

        def unknown(key: str) -> str:
            return f"{key!r} is not among {sample} {split} rating pairs (seed {pairs_seed}) of {bench.path}"
    else:
        def unknown(key: str) -> str:
            return f"{key!r} is not a {split} question of {bench.path}"
    answers, problems, _ = resolve(PARSERS[fmt](source, method), questions, unknown_key=unknown)
    if problems:
        raise refusal(source, problems)
    check_any(source, answers, f"no answer in the file (no {split} question of {bench.path} is answered)")
    is_rating = method == RATING
    return write_run(
        bench, questions, answers, out_dir=out_dir, model=model, method=method, split=split, source=source,
        config={"source": "predictions-file", "format": fmt},
        asked={level: len(qs) for level, qs in questions.items()},
        rating_seed=pairs_seed if is_rating else None,
    )
