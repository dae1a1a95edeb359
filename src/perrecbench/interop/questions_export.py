"""`export-questions`: a split's questions as JSON lines, for systems outside PerRecBench.

Each line holds exactly what a model may look at (the public view, `Question.public()`,
`Benchmark.public`): the question id and level, the query item with its metadata, and
per member the public fields of `types.PublicMember` plus their history -- every review
strictly before their review of the item, from the benchmark's context (the reviews
an LLM prompt retrieves from), oldest first. Never a member's rating or relative rating
of the query item. The rating task's one-member questions are the run's own sample
(`tasks.questions_for`), so a predictions file made from this export matches the ids
`perrecbench run --method rating` asks (`rating-<item>-<user>`).

    {"question_id": "...", "level": "easy", "split": "test", "query_time": 1700000000000,
     "item": {"item_id": "...", "title": "...", "author": null, "category": "...", "description": null},
     "members": [{"user_id": "...", "timestamp": ..., "avg_rating": 3.8, "most_common_rating": 4.0,
                  "history_len": 21, "history": [{"item_id": "...", "title": "...", "rating": 5.0,
                                                  "timestamp": ...}, ...]}, ...]}
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..bench import Benchmark, Context
from ..constants import METHODS, RATING, SPLITS
from ..errors import ConfigError
from ..locking import locked
from ..tasks import DEFAULT_PAIRS, questions_for
from ..types import Question


@dataclass
class ExportSummary:
    path: Path
    questions: dict[str, int] = field(default_factory=dict)  # per level

    @property
    def total(self) -> int:
        return sum(self.questions.values())


def history_entries(context: Context, user_id: str, before: int, max_history: int | None = None) -> list[dict]:
    """The user's reviews strictly before `before` (the latest `max_history`), oldest first."""
    reviews = context.history(user_id, before=before)
    if max_history is not None:
        reviews = reviews[len(reviews) - max_history:] if max_history else []
    return [{"item_id": r.item_id, "title": context.item(r.item_id).title, "rating": r.rating,
             "timestamp": r.timestamp} for r in reviews]


def question_line(q: Question, context: Context, max_history: int | None = None) -> dict[str, Any]:
    """One exported question: the public view of `q` with the query item and histories."""
    q = q.public()
    item = context.item(q.item_id)
    members = []
    for m in q.users:
        d = m.to_dict()
        d["history"] = history_entries(context, m.user_id, m.timestamp, max_history)
        members.append(d)
    return {
        "question_id": q.id, "level": q.level, "split": q.split, "query_time": q.query_time,
        "item": {"item_id": item.item_id, "title": item.title, "author": item.author,
                 "category": item.category, "description": item.description},
        "members": members,
    }


@locked("out")
def export_questions(bench: Benchmark, out: Path, split: str = "test", levels: Sequence[str] | None = None,
                     method: str | None = None, pairs: int | None = DEFAULT_PAIRS, pairs_seed: int = 0,
                     max_history: int | None = None) -> ExportSummary:
    """Write the questions a run of `method` on `split` is asked (the preference questions
    of `levels` when `method` is None or point/pair/list; the rating sample of `pairs`
    and `pairs_seed` for rating) to `out`, whole or not at all."""
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    if method is not None and method not in (*METHODS, RATING):
        raise ConfigError(f"unknown --method {method!r}; choose from {', '.join((*METHODS, RATING))}")
    if method == RATING and levels:
        raise ConfigError("--levels does not apply to --method rating: its pairs come from every level, "
                          "as in `perrecbench run --method rating`")
    if max_history is not None and max_history < 0:
        raise ConfigError(f"--max-history must be at least 0, got {max_history}")
    public = bench.public(split)
    if not public.available(split):
        raise ConfigError(f"{bench.path} has no {split} questions")
    sets = questions_for(public, method or METHODS[0], split, levels, None, pairs, pairs_seed)
    context = public.context
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    summary = ExportSummary(out)
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            for level, qs in sets.items():
                for q in qs:
                    fh.write(json.dumps(question_line(q, context, max_history), ensure_ascii=False) + "\n")
                summary.questions[level] = len(qs)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return summary
