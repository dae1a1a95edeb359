"""The benchmark directory format: one home for reading and writing it.

    BENCH_DIR/
      manifest.json            `records.BenchManifest`: parameters, input checksums, counts,
                               tool version and provenance
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

from .constants import LEVELS, SPLITS
from .errors import BenchmarkError
from .records import provenance
from .records.bench_manifest import NAME as MANIFEST
from .records.bench_manifest import BenchManifest, fingerprint
from .types import Item, Question, Review

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


def write_manifest(bench_dir: Path, manifest: BenchManifest) -> BenchManifest:
    """Write the manifest, with this process's provenance added."""
    record = manifest
    if record.provenance is None:
        record = record.model_copy(update={"provenance": provenance.current()})
    record.write(Path(bench_dir) / MANIFEST)
    return record


class _Groups:
    """Reviews grouped by one key (user or item), each group sorted by (timestamp, item_id,
    user_id). Built from columns already in that order; a group's Review objects are
    made on first use, so loading a benchmark does not build one object per review."""

    def __init__(self, keys: list[str], cols: tuple[list, list, list, list], spans: dict[str, tuple[int, int]]):
        self.keys = keys  # first-appearance order in the review table
        self._cols = cols  # user_id, item_id, rating, timestamp
        self._spans = spans
        self._built: dict[str, tuple[list[Review], list[int]]] = {}

    @classmethod
    def from_reviews(cls, reviews: list[Review], by: str) -> _Groups:
        groups: dict[str, list[Review]] = defaultdict(list)
        for r in reviews:
            groups[getattr(r, by)].append(r)
        out = cls(list(groups), ([], [], [], []), {})
        key = lambda r: (r.timestamp, r.item_id, r.user_id)  # noqa: E731
        for k, rs in groups.items():
            rs.sort(key=key)
            out._built[k] = (rs, [r.timestamp for r in rs])
        return out

    def get(self, key: str) -> tuple[list[Review], list[int]] | None:
        got = self._built.get(key)
        if got is None:
            span = self._spans.get(key)
            if span is None:
                return None
            s, e = span
            u, i, r, t = self._cols
            ts = t[s:e]
            got = self._built[key] = ([Review(*row) for row in zip(u[s:e], i[s:e], r[s:e], ts)], ts)
        return got


def _spans(sorted_keys: list[str]) -> dict[str, tuple[int, int]]:
    """Start/end of each run of equal keys in a sorted list."""
    out: dict[str, tuple[int, int]] = {}
    start = 0
    for j in range(1, len(sorted_keys) + 1):
        if j == len(sorted_keys) or sorted_keys[j] != sorted_keys[start]:
            out[sorted_keys[start]] = (start, j)
            start = j
    return out


class Context:
    """In-memory, time-aware view of reviews.parquet and items.parquet.

    Everything a model may see about a user or item goes through `history` /
    `item_ratings`, which only return reviews strictly before a cut-off time.
    """

    def __init__(self, reviews: list[Review], items: dict[str, Item]):
        self.items = items
        self._users = _Groups.from_reviews(reviews, "user_id")
        self._items = _Groups.from_reviews(reviews, "item_id")

    @classmethod
    def from_parquet(cls, bench_dir: Path) -> Context:
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        bench_dir = Path(bench_dir)
        rpath, ipath = bench_dir / REVIEWS, bench_dir / ITEMS
        for p in (rpath, ipath):
            if not p.exists():
                raise BenchmarkError(f"{bench_dir} has no {p.name}; was it built by perrecbench?")
        rt = pq.read_table(rpath, columns=["user_id", "item_id", "rating", "timestamp"])
        rt = rt.set_column(2, "rating", pc.cast(rt["rating"], "float64"))
        rt = rt.set_column(3, "timestamp", pc.cast(rt["timestamp"], "int64"))
        ctx = cls.__new__(cls)
        # Arrow sorts strings by UTF-8 bytes, which is code-point order: Python's order
        by_user = rt.take(pc.sort_indices(rt, [("user_id", "ascending"), ("timestamp", "ascending"),
                                               ("item_id", "ascending")]))
        by_item = rt.take(pc.sort_indices(rt, [("item_id", "ascending"), ("timestamp", "ascending"),
                                               ("user_id", "ascending")]))
        ucols = tuple(by_user.column(c).to_pylist() for c in range(4))
        icols = tuple(by_item.column(c).to_pylist() for c in range(4))
        ctx._users = _Groups(pc.unique(rt["user_id"]).to_pylist(), ucols, _spans(ucols[0]))
        ctx._items = _Groups(pc.unique(rt["item_id"]).to_pylist(), icols, _spans(icols[1]))
        it = pq.read_table(ipath).to_pylist()
        ctx.items = {
            row["item_id"]: Item(
                item_id=row["item_id"],
                title=row.get("title") or "",
                author=row.get("author"),
                category=row.get("category"),
                description=row.get("description"),
            )
            for row in it
        }
        return ctx

    def users(self) -> list[str]:
        return list(self._users.keys)

    def history(self, user_id: str, before: int) -> list[Review]:
        """The user's reviews strictly earlier than `before`, oldest first."""
        got = self._users.get(user_id)
        if not got:
            return []
        reviews, ts = got
        return reviews[: bisect.bisect_left(ts, before)]

    def item_ratings(self, item_id: str, before: int) -> list[Review]:
        """Reviews of the item strictly earlier than `before`, oldest first."""
        got = self._items.get(item_id)
        if not got:
            return []
        reviews, ts = got
        return reviews[: bisect.bisect_left(ts, before)]

    def item(self, item_id: str) -> Item:
        return self.items.get(item_id) or Item(item_id=item_id, title=item_id)

    def all_reviews(self) -> Iterator[Review]:
        for u in self._users.keys:
            got = self._users.get(u)
            if got:
                yield from got[0]


def bench_fingerprint(bench_dir: Path | str) -> str:
    """Short hash of a benchmark's manifest (parameters, input checksums, counts; not its
    provenance): runs, scores and memoised prompt components are tied to it."""
    return fingerprint(bench_dir)


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
        self.manifest: BenchManifest = BenchManifest.read(mpath)

    @property
    def name(self) -> str:
        return self.manifest.name or self.path.name

    @cached_property
    def fingerprint(self) -> str:
        return fingerprint(self.path)

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

    def public(self, split: str) -> Benchmark:
        """The benchmark as a model evaluated on `split` sees it (`PublicBenchmark`)."""
        return PublicBenchmark(self, split)

    def item_categories(self) -> dict[str, str | None]:
        """item_id -> its category field (items.parquet only; no reviews are loaded)."""
        import pyarrow.parquet as pq

        path = self.path / ITEMS
        if not path.exists():
            raise BenchmarkError(f"{self.path} has no {ITEMS}; was it built by perrecbench?")
        table = pq.read_table(path, columns=["item_id", "category"])
        return dict(zip(table.column("item_id").to_pylist(), table.column("category").to_pylist(), strict=True))

    def item_review_counts(self) -> dict[str, int]:
        """item_id -> its number of reviews in reviews.parquet, at any time. For a query item
        that is every review of it in the source data (one per user, the earliest), since
        the benchmark keeps all of them; for other items only the question users' ones."""
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        path = self.path / REVIEWS
        if not path.exists():
            raise BenchmarkError(f"{self.path} has no {REVIEWS}; was it built by perrecbench?")
        counts = pc.value_counts(pq.read_table(path, columns=["item_id"]).column("item_id"))
        return {str(c["values"]): int(c["counts"]) for c in counts.to_pylist()}


class PublicBenchmark(Benchmark):
    """The benchmark handed to every model but the built-in oracle, while `hidden` (the
    split being evaluated) runs: that split's questions come without truth
    (`Question.public()`); the other splits -- few-shot demonstrations from the held-out
    split, fine-tuning data -- and the context are the benchmark's own. It shares the
    benchmark's loaded context. This guards against accidents, not against code that
    opens the benchmark's files itself (docs/extending.md)."""

    _full: Benchmark

    def __init__(self, bench: Benchmark, hidden: str):
        if isinstance(bench, PublicBenchmark):
            bench = bench._full
        self.__dict__.update(bench.__dict__)  # path, manifest, and whatever is loaded already
        self._full = bench
        self.hidden = hidden

    @cached_property
    def fingerprint(self) -> str:
        return self._full.fingerprint

    @cached_property
    def context(self) -> Context:
        return self._full.context

    def questions(self, split: str = "test", level: str = "easy") -> list[Question]:
        qs = self._full.questions(split, level)
        return [q.public() for q in qs] if split == self.hidden else qs
