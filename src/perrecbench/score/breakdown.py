"""Scores broken down by a property of the questions: the query item's category, its
exposure, the level, or all of a run's questions at once (per method).

Each run is scored on the questions of each group with the same metrics, failure policy
and bootstrap as `score` (tau per question with failed = 0; a rating run's MAE, RMSE and
accuracy with failed answers excluded), so a group's row reads like a `score` row on a
subset. Levels are pooled ("all") unless asked per level.

* category: the item's `category` field from items.parquet, split on "|" (MovieLens
  genres: a film counts in each of its genres, so the groups overlap); the `top` largest
  groups by questions, the rest pooled as "(other)"; no category -> "(unknown)".
* exposure: how often the item was rated. By default the number of reviews of the item
  in the benchmark's reviews.parquet, at any time -- for a query item that is every
  review of it in the source data after one review per user and item is kept (the
  builder stores them all), not only those before the question; or counts from a
  user's file of item -> count (e.g. how often the item occurs in a pretraining
  corpus). Buckets are quantiles of the counts of the benchmark's query items of the
  runs' split (every level); an item missing from the file is "(no count)".
* level: one group per level; method: one group per run (all its questions).
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from ..bench import Benchmark
from ..constants import RATING
from ..errors import ConfigError, InputDataError
from ..records.analysis import BreakdownRow, BreakdownTable
from ..types import Question
from .metric_table import TAU, TAU_METRICS
from .outcomes import Outcome, outcomes
from .runs import LoadedRun
from .scoring import pooled_rows, question_row

BY = ("category", "exposure", "level", "method")
UNKNOWN = "(unknown)"
OTHER = "(other)"
NO_COUNT = "(no count)"
ALL = "all"


# --- exposure ----------------------------------------------------------------------------------


def read_exposure_file(path: Path | str) -> dict[str, float]:
    """item -> count from a CSV with a header (columns `item_id` and `count`, else the
    first two) or a JSON object {item: count}."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputDataError(f"cannot read the exposure file {path}: {exc}") from exc
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InputDataError(f"{path} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InputDataError(f"{path}: expected a JSON object {{item_id: count}}")
        return {str(k): _count(v, f"{path}: item {k!r}") for k, v in data.items()}
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise InputDataError(f"{path}: empty exposure file")
    header = [h.strip().lower() for h in rows[0]]
    item_col = header.index("item_id") if "item_id" in header else 0
    count_col = header.index("count") if "count" in header else 1
    out: dict[str, float] = {}
    for lineno, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(item_col, count_col):
            raise InputDataError(f"{path}:{lineno}: expected item_id,count")
        out[row[item_col].strip()] = _count(row[count_col], f"{path}:{lineno}")
    if not out:
        raise InputDataError(f"{path}: no item counts")
    return out


def _count(value: object, where: str) -> float:
    try:
        n = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputDataError(f"{where}: count {value!r} is not a number") from None
    if not math.isfinite(n) or n < 0:
        raise InputDataError(f"{where}: count {value!r} must be a number >= 0")
    return n


def bucket_edges(counts: Sequence[float], n_buckets: int) -> list[float]:
    """Quantile edges (n_buckets + 1, duplicates dropped: tied counts can merge buckets)."""
    if n_buckets < 1:
        raise ConfigError(f"--buckets must be at least 1, got {n_buckets}")
    if not counts:
        return []
    edges = np.quantile(np.asarray(counts, dtype=float), np.linspace(0.0, 1.0, n_buckets + 1))
    return sorted({float(e) for e in edges})


def bucket_of(count: float, edges: Sequence[float]) -> int:
    """The bucket index of a count: [e0, e1], (e1, e2], ... (the first includes its low edge)."""
    if len(edges) < 2:
        return 0
    return min(max(int(np.searchsorted(edges, count, side="left")) - 1, 0), len(edges) - 2)


def exposure_groups(items: Sequence[str], counts: Mapping[str, float], n_buckets: int
                    ) -> dict[str, tuple[str, int, float | None, float | None]]:
    """item -> (bucket label, rank, lowest and highest count in the bucket) over `items`."""
    known = sorted({i for i in items if i in counts})
    edges = bucket_edges([counts[i] for i in known], n_buckets)
    members: dict[int, list[float]] = defaultdict(list)
    for i in known:
        members[bucket_of(counts[i], edges)].append(counts[i])
    label = {b: (f"{_num(min(v))}-{_num(max(v))}", min(v), max(v)) for b, v in members.items()}
    out: dict[str, tuple[str, int, float | None, float | None]] = {}
    for i in set(items):
        if i in counts:
            b = bucket_of(counts[i], edges)
            text, lo, hi = label[b]
            out[i] = (text, b, lo, hi)
        else:
            out[i] = (NO_COUNT, len(edges), None, None)
    return out


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


# --- categories --------------------------------------------------------------------------------


def categories_of(value: str | None) -> list[str]:
    """A category field as its categories: "Drama|Romance" -> ["Drama", "Romance"]."""
    parts = [p.strip() for p in (value or "").split("|") if p.strip()]
    return parts or [UNKNOWN]


# --- the breakdown -----------------------------------------------------------------------------

Grouping = Callable[[Question], list[tuple[str, int, float | None, float | None]]]


def _rows_for(run: LoadedRun, by: str, level: str, outs: list[Outcome], grouping: Grouping, metric: str,
              n_resamples: int, seed: int) -> list[BreakdownRow]:
    subsets: dict[str, list[Outcome]] = defaultdict(list)
    meta: dict[str, tuple[int, float | None, float | None]] = {}
    for o in outs:
        for name, rank, lo, hi in grouping(o.question):
            subsets[name].append(o)
            meta[name] = (rank, lo, hi)
    rows = []
    for name, subset in subsets.items():
        rank, lo, hi = meta[name]
        scored = (pooled_rows(run, level, subset, n_resamples, seed) if run.method == RATING
                  else [question_row(run, level, TAU[metric], subset, n_resamples, seed)])
        rows += [BreakdownRow(**r.model_dump(), by=by, group=name, rank=rank, low=lo, high=hi) for r in scored]
    return rows


def breakdown(runs: Sequence[LoadedRun], by: str, metric: str = "tau-b", per_level: bool = False,
              exposure: Mapping[str, float] | None = None, exposure_source: str | None = None, n_buckets: int = 4,
              top: int = 8, n_resamples: int = 1000, seed: int = 0) -> BreakdownTable:
    """Every run's score per group of its questions (see the module docstring)."""
    if by not in BY:
        raise ConfigError(f"--by {by!r}: choose from {', '.join(BY)}")
    if metric not in TAU_METRICS:
        raise ConfigError(f"unknown metric {metric!r}; choose from {', '.join(TAU_METRICS)}")
    if top < 1:
        raise ConfigError(f"--top must be at least 1, got {top}")
    notes: list[str] = []
    groupings: dict[str, Grouping] = {}
    for bench, split in {(r.bench.path, r.split): (r.bench, r.split) for r in runs}.values():
        groupings[f"{bench.fingerprint}/{split}"] = _grouping(by, bench, split, runs, exposure, n_buckets, top, notes)
    rows: list[BreakdownRow] = []
    for run in runs:
        grouping = groupings[f"{run.bench.fingerprint}/{run.split}"]
        if per_level or by == "level":
            for level in run.levels:
                rows += _rows_for(run, by, level, outcomes(run, level), grouping, metric, n_resamples, seed)
        else:
            outs = [o for level in run.levels for o in outcomes(run, level)]
            rows += _rows_for(run, by, ALL, outs, grouping, metric, n_resamples, seed)
    rows.sort(key=lambda r: (r.rank, r.group, r.method, r.label, r.level, r.metric))
    if by == "category":
        notes.append("a question counts in each category of its item ('|'-separated, e.g. MovieLens genres)")
    source = None
    if by == "exposure":
        source = exposure_source or ("reviews of the item in the benchmark's reviews.parquet, at any time "
                                     "(query items: all their reviews in the source data, one per user)")
        notes.append(f"{n_buckets} quantile buckets of the query items' counts (tied counts may merge buckets)")
    return BreakdownTable(by=by, metric=metric, exposure_source=source, rows=rows, notes=list(dict.fromkeys(notes)))


def _grouping(by: str, bench: Benchmark, split: str, runs: Sequence[LoadedRun],
              exposure: Mapping[str, float] | None, n_buckets: int, top: int, notes: list[str]) -> Grouping:
    if by == "level":
        return lambda q: [(q.level, _LEVEL_RANK.get(q.level, 9), None, None)]
    if by == "method":
        return lambda q: [(ALL, 0, None, None)]
    items = sorted({q.item_id for lv in bench.available(split) for q in bench.questions(split, lv)})
    if by == "exposure":
        counts = exposure if exposure is not None else bench.item_review_counts()
        groups = exposure_groups(items, counts, n_buckets)
        missing = sum(1 for i in items if i not in counts)
        if missing:
            notes.append(f"{missing} of the {len(items)} query items have no count in the exposure file: "
                         f"'{NO_COUNT}'")
        return lambda q: [groups.get(q.item_id, (NO_COUNT, n_buckets + 1, None, None))]
    field = bench.item_categories()
    sizes: Counter[str] = Counter()
    for run in runs:
        if run.bench.path != bench.path:
            continue
        for level in run.levels:
            for q in run.questions[level]:
                sizes.update(categories_of(field.get(q.item_id)))
    kept = [c for c, _ in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))][:top]
    rank = {c: i for i, c in enumerate(kept)}
    if len(sizes) > len(kept):
        notes.append(f"the {len(kept)} largest categories; the other {len(sizes) - len(kept)} pooled as '{OTHER}'")

    def grouping(q: Question) -> list[tuple[str, int, float | None, float | None]]:
        names = categories_of(field.get(q.item_id))
        mine = sorted({n if n in rank else OTHER for n in names}, key=lambda n: rank.get(n, len(kept)))
        return [(n, rank.get(n, len(kept)), None, None) for n in mine]

    return grouping


_LEVEL_RANK = {"easy": 0, "medium": 1, "hard": 2, RATING: 3}
