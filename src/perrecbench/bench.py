"""The benchmark directory format: one home for reading and writing it.

    BENCH_DIR/
      manifest.json            parameters, input checksums, counts, tool version
      {split}-{level}.jsonl    one Question per line (split: test, heldout, train)
      reviews.parquet          user_id, item_id, rating, timestamp(ms): every review of every
                               user that appears in a question, plus every review of every
                               query item -- the context models may use (filtered by time)
      items.parquet            item_id, title, author, category, description
      profiles/                optional cached user profiles (see prompts.profiles)
"""

from __future__ import annotations

import bisect
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from . import LEVELS, SPLITS
from .errors import BenchmarkError
from .types import Item, Question, Review

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
REVIEWS = "reviews.parquet"
ITEMS = "items.parquet"


def questions_file(bench_dir: Path, split: str, level: str) -> Path:
    return Path(bench_dir) / f"{split}-{level}.jsonl"


def write_questions(path: Path, questions: Iterable[Question]) -> int:
    """Write questions as canonical JSON lines (sorted keys) so builds are byte-identical."""
    n = 0
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for q in questions:
            fh.write(json.dumps(q.to_dict(), sort_keys=True, ensure_ascii=False) + "\n")
            n += 1
    return n


def read_questions(path: Path) -> list[Question]:
    out: list[Question] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                out.append(Question.from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError) as exc:
                raise BenchmarkError(f"{path}:{lineno}: not a valid question line ({exc})") from exc
    return out


def write_manifest(bench_dir: Path, manifest: dict[str, Any]) -> None:
    manifest = {"format_version": FORMAT_VERSION, **manifest}
    text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    (Path(bench_dir) / MANIFEST).write_text(text, encoding="utf-8")


class Context:
    """In-memory, time-aware view of reviews.parquet and items.parquet.

    Everything a model may see about a user or item goes through `history` /
    `item_ratings`, which only return reviews strictly before a cut-off time.
    """

    def __init__(self, reviews: list[Review], items: dict[str, Item]):
        self.items = items
        by_user: dict[str, list[Review]] = defaultdict(list)
        by_item: dict[str, list[Review]] = defaultdict(list)
        for r in reviews:
            by_user[r.user_id].append(r)
            by_item[r.item_id].append(r)
        key = lambda r: (r.timestamp, r.item_id, r.user_id)  # noqa: E731
        self._by_user = {u: sorted(rs, key=key) for u, rs in by_user.items()}
        self._by_item = {i: sorted(rs, key=key) for i, rs in by_item.items()}
        self._user_ts = {u: [r.timestamp for r in rs] for u, rs in self._by_user.items()}
        self._item_ts = {i: [r.timestamp for r in rs] for i, rs in self._by_item.items()}

    @classmethod
    def from_parquet(cls, bench_dir: Path) -> Context:
        import pyarrow.parquet as pq

        bench_dir = Path(bench_dir)
        rpath, ipath = bench_dir / REVIEWS, bench_dir / ITEMS
        for p in (rpath, ipath):
            if not p.exists():
                raise BenchmarkError(f"{bench_dir} has no {p.name}; was it built by perrecbench?")
        rt = pq.read_table(rpath, columns=["user_id", "item_id", "rating", "timestamp"])
        cols = rt.to_pydict()
        reviews = [
            Review(u, i, float(r), int(t))
            for u, i, r, t in zip(cols["user_id"], cols["item_id"], cols["rating"], cols["timestamp"])
        ]
        it = pq.read_table(ipath).to_pylist()
        items = {
            row["item_id"]: Item(
                item_id=row["item_id"],
                title=row.get("title") or "",
                author=row.get("author"),
                category=row.get("category"),
                description=row.get("description"),
            )
            for row in it
        }
        return cls(reviews, items)

    def users(self) -> list[str]:
        return list(self._by_user)

    def history(self, user_id: str, before: int) -> list[Review]:
        """The user's reviews strictly earlier than `before`, oldest first."""
        ts = self._user_ts.get(user_id)
        if not ts:
            return []
        return self._by_user[user_id][: bisect.bisect_left(ts, before)]

    def item_ratings(self, item_id: str, before: int) -> list[Review]:
        """Reviews of the item strictly earlier than `before`, oldest first."""
        ts = self._item_ts.get(item_id)
        if not ts:
            return []
        return self._by_item[item_id][: bisect.bisect_left(ts, before)]

    def item(self, item_id: str) -> Item:
        return self.items.get(item_id) or Item(item_id=item_id, title=item_id)

    def all_reviews(self) -> Iterator[Review]:
        for rs in self._by_user.values():
            yield from rs


class Benchmark:
    """A built benchmark directory."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        mpath = self.path / MANIFEST
        if not mpath.exists():
            raise BenchmarkError(
                f"{self.path} is not a benchmark directory (no {MANIFEST}); "
                "create one with `perrecbench build` or `perrecbench import-release`"
            )
        try:
            self.manifest: dict[str, Any] = json.loads(mpath.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise BenchmarkError(f"{mpath} is not valid JSON: {exc}") from exc

    @property
    def name(self) -> str:
        return str(self.manifest.get("name") or self.path.name)

    def available(self, split: str = "test") -> list[str]:
        return [lv for lv in LEVELS if questions_file(self.path, split, lv).exists()]

    def questions(self, split: str = "test", level: str = "easy") -> list[Question]:
        if split not in SPLITS:
            raise BenchmarkError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
        path = questions_file(self.path, split, level)
        if not path.exists():
            raise BenchmarkError(f"{self.path} has no {path.name} (levels here: {self.available(split)})")
        return read_questions(path)

    def question(self, qid: str) -> Question:
        for split in SPLITS:
            for level in self.available(split):
                for q in self.questions(split, level):
                    if q.id == qid:
                        return q
        raise BenchmarkError(f"no question with id {qid!r} in {self.path}")

    @cached_property
    def context(self) -> Context:
        return Context.from_parquet(self.path)
