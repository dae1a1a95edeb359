"""SFT rows from a benchmark split: `run`'s prompts with the true answer as the assistant turn.

* point: one row per member, answer = the member's true rating (relative rating with
  `rel_rating`), as `{"predicted_rating": 4.0}`;
* pair: one row per ordered pair of members (both orders of every pair), answer = the
  member who likes the item more relative to their habit, `[User A]` / `[User B]`;
* group: one row per question, answer = the best-first list of 1-based user numbers;
* mix: the union of the three, shuffled with the seed.

The answers are the strings the few-shot demos use (`prompts.fewshot`), which the
parser reads back (tested). Only train or held-out questions become rows, and a row
whose query item is a test item of the benchmark is an error, never a warning.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Protocol

from ..bench import Benchmark
from ..errors import BenchmarkError, ConfigError
from ..prompts.fewshot import list_answer, pair_answer, point_answer
from ..types import Question

FORMATS = ("point", "pair", "group", "mix")
SINGLE_FORMATS = ("point", "pair", "group")
#: the `run` method whose prompts a format is trained on
METHOD_OF = {"point": "point", "pair": "pair", "group": "list"}
TRAINABLE_SPLITS = ("train", "heldout")
#: the datasets split name the release trains from (held-out rows go to the eval split)
DATASET_SPLIT = {"train": "train_sft", "heldout": "test_sft"}


class Renderer(Protocol):
    def messages(self, q: Question, method: str, members: list[int]) -> list[dict[str, str]]: ...


@dataclass(frozen=True)
class SFTRow:
    messages: list[dict[str, str]]
    format: str
    level: str
    question_id: str
    members: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"messages": self.messages, "format": self.format, "level": self.level,
                "question_id": self.question_id, "members": list(self.members)}


@dataclass
class SFTData:
    rows: list[SFTRow]
    questions: Counter = field(default_factory=Counter)  # per level

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows per format and level."""
        out: dict[str, Counter] = {}
        for r in self.rows:
            out.setdefault(r.format, Counter())[r.level] += 1
        return {f: dict(sorted(c.items())) for f, c in sorted(out.items())}


def question_rows(q: Question, fmt: str, render: Renderer, rel_rating: bool = False) -> Iterator[SFTRow]:
    """The rows of one question in one single format (see the module docstring)."""

    def row(method: str, members: list[int], answer: str) -> SFTRow:
        msgs = render.messages(q, method, members) + [{"role": "assistant", "content": answer}]
        return SFTRow(msgs, fmt, q.level, q.id, tuple(members))

    if fmt == "point":
        for i, m in enumerate(q.users):
            yield row("point", [i], point_answer(m.relative_rating if rel_rating else m.rating))
    elif fmt == "pair":
        for a, b in combinations(range(q.n), 2):
            a_wins = q.users[a].relative_rating > q.users[b].relative_rating
            yield row("pair", [a, b], pair_answer(a_wins))
            yield row("pair", [b, a], pair_answer(not a_wins))
    elif fmt == "group":
        yield row("list", list(range(q.n)), list_answer([i + 1 for i in q.true_order()]))
    else:
        raise ConfigError(f"unknown SFT format {fmt!r}; choose from {', '.join(FORMATS)}")


def build_rows(questions: Iterable[Question], fmt: str, render: Renderer, rel_rating: bool = False,
               seed: int = 0) -> SFTData:
    """All rows of `fmt` for `questions`; `mix` is the three formats' union, shuffled with `seed`."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown SFT format {fmt!r}; choose from {', '.join(FORMATS)}")
    data = SFTData([])
    for q in questions:
        data.questions[q.level] += 1
        for f in SINGLE_FORMATS if fmt == "mix" else (fmt,):
            data.rows.extend(question_rows(q, f, render, rel_rating))
    if fmt == "mix":
        random.Random(seed).shuffle(data.rows)
    return data


def trainable_questions(bench: Benchmark, split: str, levels: list[str] | None = None,
                        limit: int | None = None) -> list[Question]:
    """The questions of a train or held-out split; any overlap with the test split's items
    is an error (a test item must never reach training data)."""
    if split not in TRAINABLE_SPLITS:
        raise ConfigError(f"SFT data comes from the {' or '.join(TRAINABLE_SPLITS)} split, not {split!r}: "
                          "test questions must never reach training data")
    available = bench.available(split)
    levels = levels or available
    missing = [lv for lv in levels if lv not in available]
    if missing or not levels:
        raise BenchmarkError(f"{bench.path} has no {split} questions for level(s) {', '.join(missing) or 'any'}")
    test_items = {q.item_id for lv in bench.available("test") for q in bench.questions("test", lv)}
    out = []
    for lv in levels:
        for q in bench.questions(split, lv)[:limit]:
            if q.split != split:
                raise BenchmarkError(f"{bench.path}: question {q.id} in the {split} file says split {q.split!r}")
            if q.item_id in test_items:
                raise BenchmarkError(f"{split} question {q.id} asks about {q.item_id}, an item of the test "
                                     "split: refusing to put a test item into training data")
            out.append(q)
    return out
