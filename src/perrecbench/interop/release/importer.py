"""Importing the authors' released data (SPEC 2.2) as a benchmark directory.

Layout: see `layout`. Import rules: only the first group of each item counts (as in the released evaluator);
members keep their order; `relative_rating` and `avg_rating` are the truth as given (the
release averaged over the user's whole list, so the manifest records user_mean "all").
`history_len` says how many history entries precede the query purchase. When history
entries carry no `timestamp`, a user's whole list gets synthetic times, one day apart in
list order, and each member's time is placed so that exactly `history_len` entries are
earlier (the query review itself, when it is in the list at that index, gets that time).
Synthetic times are per category: a user present in several categories without
timestamps gets interleaved histories, so prefer importing such categories one by one.

Validation follows the builder (`data.stage`): ratings are numbers in 1..5, times are
ms in [0, 2100); a history entry that fails is skipped (its position kept); a group
with a member that fails, or with the same user twice, is rejected, never scored.
Skips are counted per reason in the builder's words (`data.report.REASONS`) and the
first few per file are kept as `file:key: reason`.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...bench import ITEMS, REVIEWS, questions_file, write_manifest, write_questions
from ...builder.staging import check_target, staged_directory
from ...constants import LEVELS, __version__
from ...data.files import sha256_file
from ...data.report import reason_counts
from ...data.stage import TIMESTAMP_MAX_MS
from ...errors import InputDataError
from ...locking import locked
from ...records import BenchCounts, BenchManifest
from ...types import Item, Member, Question, Review
from .layout import (
    GROUP_FILE,
    HELDOUT_FILE,
    HISTORY_FILE,
    ITEM_FILE,
    PROFILE_FILE,
    PROFILES_OUT,
    SYNTH_START_MS,
    SYNTH_STEP_MS,
    find_release_folders,
    read_json,
)


@dataclass
class ReleaseImportReport:
    """What an import produced and what it had to skip."""

    out_dir: Path
    categories: list[str]
    questions: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    users_synthesized_time: int = 0
    history_len_mismatches: int = 0
    reviews: int = 0
    items: int = 0
    profiles: int = 0

    per_file: Counter = field(default_factory=Counter)

    def skip(self, reason: str, file: Path | str, key: str, detail: str) -> None:
        """Count one skipped entry or group under `reason` (a `REASONS` key); the first
        few of each file are kept as `file:key: detail`."""
        self.skipped[reason] += 1
        self.per_file[str(file)] += 1
        if self.per_file[str(file)] <= EXAMPLES_PER_FILE:
            self.examples.append(f"{file}:{key}: {detail}")

    def summary(self) -> list[str]:
        """What was skipped, as the builder prints it: counts per reason, first bad entries."""
        bad = {k: v for k, v in self.skipped.items() if k != EXTRA_GROUPS}
        lines = [f"skipped: {reason_counts(bad)}"] if bad else []
        if self.skipped.get(EXTRA_GROUPS):
            lines.append(f"{self.skipped[EXTRA_GROUPS]:,} {EXTRA_GROUPS}")
        if self.examples:
            lines.append("first bad entries:")
            lines.extend(f"  {e}" for e in self.examples)
        return lines


EXTRA_GROUPS = "extra groups ignored (first group counts)"  # not bad: the release's rule
EXAMPLES_PER_FILE = 5  # as the builder's max_bad_lines
RATING_RANGE = (1.0, 5.0)


class _Bad(ValueError):
    """A value the builder would refuse: (reason key, words for people)."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _finite(value: Any) -> float | None:
    """A JSON number (or numeric text, as the builder casts text) that is finite; else None.
    JSON's NaN and Infinity, booleans and other text are None."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        x = float(value)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _rating(value: Any, name: str = "rating", lo: float = RATING_RANGE[0], hi: float = RATING_RANGE[1]) -> float:
    """A finite number in lo..hi."""
    x = _finite(value)
    if x is None:
        shown = value if isinstance(value, float) else json.dumps(value)[:40]
        raise _Bad("bad_rating", f"{name} {shown} is not a number")
    if not lo <= x <= hi:
        raise _Bad("bad_rating", f"{name} {x:g} outside {lo:g}..{hi:g}")
    return x


def _relative(value: Any) -> float:
    """rating - mean: both in 1..5, so within -4..4."""
    lo, hi = RATING_RANGE
    return _rating(value, "relative_rating", lo - hi, hi - lo)


def _time(value: Any, name: str = "timestamp") -> int:
    """Ms since the epoch, as the builder keeps them: [0, 2100-01-01)."""
    x = _finite(value)
    if x is None or x < 0:
        shown = value if isinstance(value, (int, float)) and not isinstance(value, bool) else json.dumps(value)[:40]
        raise _Bad("bad_timestamp", f"{name} {shown} is not a valid time")
    if x >= TIMESTAMP_MAX_MS:
        raise _Bad("future_timestamp", f"{name} {value} is after 2100")
    return int(x)


@dataclass
class _Entry:
    item_id: str
    rating: float
    timestamp: int


@dataclass
class _History:
    """One user's list with positions kept (a bad entry stays None so indices still match)."""

    entries: list[_Entry | None]
    synthesized: bool  # timestamps made up from list order

    def index_of(self, item_id: str) -> int | None:
        return next(
            (j for j, e in enumerate(self.entries) if e is not None and e.item_id == item_id), None
        )

    def valid(self, upto: int | None = None) -> list[_Entry]:
        return [e for e in self.entries[:upto] if e is not None]


def _history(uid: str, raw: Any, report: ReleaseImportReport, where: str) -> _History:
    if not isinstance(raw, list):
        report.skip("malformed_row", where, uid, "history is not a list")
        return _History([], False)
    synth = not all(
        isinstance(e, dict) and isinstance(e.get("timestamp"), (int, float)) for e in raw
    )
    if synth and raw:
        report.users_synthesized_time += 1
    out: list[_Entry | None] = []
    for j, e in enumerate(raw):
        asin = e.get("parent_asin", e.get("asin")) if isinstance(e, dict) else None
        rating = e.get("rating") if isinstance(e, dict) else None
        if asin is None or rating is None:
            report.skip("missing_field", where, f"{uid} entry {j}",
                        "missing " + ("parent_asin" if asin is None else "rating"))
            out.append(None)
            continue
        try:
            ts = SYNTH_START_MS + j * SYNTH_STEP_MS if synth else _time(e["timestamp"])
            out.append(_Entry(str(asin), _rating(rating), ts))
        except _Bad as bad:
            report.skip(bad.reason, where, f"{uid} entry {j}", bad.detail)
            out.append(None)
    return _History(out, synth)


def _member(m: Any, asin: str, hist: _History, report: ReleaseImportReport) -> Member:
    """A group member with the truth as given; raises KeyError/TypeError/ValueError if unusable."""
    uid = str(m["user_id"])
    rel, avg = _relative(m["relative_rating"]), _rating(m["avg_rating"], "avg_rating")
    qi = hist.index_of(asin)
    h = m["history_len"] if "history_len" in m else qi
    if h is None:
        raise KeyError("history_len")
    hx = _finite(h)
    if hx is None or hx < 0 or hx != int(hx):
        raise _Bad("malformed_row", f"history_len {json.dumps(h)[:40]} is not a whole number >= 0")
    h = int(hx)
    query = hist.entries[qi] if qi is not None else None
    entries = hist.valid()
    if "timestamp" in m:
        ts = _time(m["timestamp"])
    elif query is not None and (qi == h or not hist.synthesized):
        ts = query.timestamp  # the query review itself
    elif hist.synthesized or not entries:
        ts = SYNTH_START_MS + h * SYNTH_STEP_MS - SYNTH_STEP_MS // 2  # between entries h-1 and h
    else:
        before = hist.valid(h)
        ts = before[-1].timestamp + 1 if before else entries[0].timestamp - 1
    if sum(e.timestamp < ts for e in entries) != h:
        report.history_len_mismatches += 1
    if "rating" in m:
        rating = _rating(m["rating"])
    elif query is not None:
        rating = query.rating
    else:
        rating = _rating(avg + rel, "avg_rating + relative_rating")
    if "most_common_rating" in m:
        mcr = _rating(m["most_common_rating"], "most_common_rating")
    else:
        past = [e.rating for e in hist.valid(h)]
        mcr = Counter(past).most_common(1)[0][0] if past else avg
    return Member(uid, rating, rel, avg, mcr, h, ts)


def _group(
    members: list[Any], asin: str, histories: dict[str, _History], report: ReleaseImportReport
) -> tuple[Member, ...]:
    """The group's members; `_Bad` (naming the user) for a member the builder would
    refuse or a user who is in the group twice."""
    users: list[Member] = []
    for k, m in enumerate(members):
        uid = str(m.get("user_id")) if isinstance(m, dict) and "user_id" in m else None
        if uid is None:
            raise _Bad("missing_field", f"member {k} has no user_id")
        if any(u.user_id == uid for u in users):
            raise _Bad("duplicate_member", f"user {uid} is in it twice")
        try:
            users.append(_member(m, asin, histories.get(uid, _History([], False)), report))
        except _Bad as bad:
            raise _Bad(bad.reason, f"user {uid}: {bad.detail}") from None
        except KeyError as exc:
            raise _Bad("missing_field", f"user {uid}: missing {exc}") from None
        except (TypeError, ValueError) as exc:
            raise _Bad("malformed_row", f"user {uid}: {exc}") from None
    return tuple(users)


def _questions(
    path: Path, level: str, split: str, histories: dict[str, _History], report: ReleaseImportReport
) -> list[Question]:
    data = read_json(path)
    out = []
    for asin, groups in data.items():
        key = str(asin)
        if isinstance(groups, list) and groups and isinstance(groups[0], dict):
            groups = [groups]  # a single group instead of a list of groups
        if not isinstance(groups, list) or not groups or not isinstance(groups[0], list):
            report.skip("malformed_row", path, key, "no group (expected a list of members)")
            continue
        if len(groups) > 1:
            report.skipped[EXTRA_GROUPS] += len(groups) - 1
        try:
            users = _group(groups[0], key, histories, report)
        except _Bad as bad:
            report.skip(bad.reason, path, key, f"group rejected: {bad.detail}")
            continue
        if len(users) < 2:
            report.skip("small_group", path, key, "group with fewer than 2 members")
            continue
        out.append(
            Question(
                id=f"{level}-{asin}",
                level=level,
                split=split,
                item_id=str(asin),
                query_time=min(u.timestamp for u in users),
                users=users,
            )
        )
    return out


def _author(item: dict[str, Any]) -> str | None:
    a = item.get("author")
    if isinstance(a, dict):
        a = a.get("name")
    return str(a) if a else None


def _description(item: dict[str, Any]) -> str | None:
    d = item.get("description")
    if isinstance(d, list):
        d = " ".join(str(x) for x in d if x)
    return str(d) if d else None


@dataclass
class ReleaseData:
    """What an import keeps of a release, read and checked, before anything is written."""

    categories: list[str]
    #: (split, level) -> question id -> question
    questions: dict[tuple[str, str], dict[str, Question]] = field(default_factory=dict)
    #: (user, item, time) -> rating: history entries are kept as listed (a repeated item
    #: in one list stays, so history_len still counts right); the same entry seen in two
    #: categories is stored once
    reviews: dict[tuple[str, str, int], float] = field(default_factory=dict)
    items: dict[str, Item] = field(default_factory=dict)
    profiles: dict[str, str] = field(default_factory=dict)
    #: "<category>/<file name>" -> sha256 of every JSON file of the release folders
    inputs: dict[str, str] = field(default_factory=dict)

    def review_rows(self) -> list[Review]:
        """The context reviews in reviews.parquet's order: by user, then time, then item."""
        rows = [Review(u, i, r, t) for (u, i, t), r in self.reviews.items()]
        return sorted(rows, key=lambda x: (x.user_id, x.timestamp, x.item_id))


def read_release(folders: dict[str, Path], report: ReleaseImportReport) -> ReleaseData:
    """Read and check the release folders (category -> folder); what is skipped goes to
    `report`. Writes nothing."""
    data = ReleaseData(list(folders))
    rated: set[tuple[str, str]] = set()
    for cat, folder in folders.items():
        for name in (ITEM_FILE, HISTORY_FILE):
            if not (folder / name).exists():
                raise InputDataError(
                    f"{folder / name}: file not found (required in a release folder)"
                )
        for asin, item in read_json(folder / ITEM_FILE).items():
            if not isinstance(item, dict):
                report.skip("malformed_row", folder / ITEM_FILE, str(asin), "item metadata is not an object")
                continue
            data.items.setdefault(
                str(asin),
                Item(
                    item_id=str(asin),
                    title=str(item.get("title") or ""),
                    author=_author(item),
                    category=str(item.get("main_category") or cat),
                    description=_description(item),
                ),
            )
        histories = {
            str(uid): _history(str(uid), raw, report, str(folder / HISTORY_FILE))
            for uid, raw in read_json(folder / HISTORY_FILE).items()
        }
        for uid, hist in histories.items():
            for e in hist.valid():
                data.reviews.setdefault((uid, e.item_id, e.timestamp), e.rating)
                rated.add((uid, e.item_id))
        if (folder / PROFILE_FILE).exists():
            for uid, text in read_json(folder / PROFILE_FILE).items():
                if isinstance(text, str):
                    data.profiles.setdefault(str(uid), text)
        for split, pattern in (("test", GROUP_FILE), ("heldout", HELDOUT_FILE)):
            for level in LEVELS:
                path = folder / pattern.format(level=level)
                if not path.exists():
                    continue
                bucket = data.questions.setdefault((split, level), {})
                for q in _questions(path, level, split, histories, report):
                    if q.id in bucket:
                        report.skip("duplicate_item", path, q.item_id,
                                    "item already imported from another category")
                        continue
                    bucket[q.id] = q
                    for u in q.users:  # every review of every query item is context
                        if (u.user_id, q.item_id) not in rated:
                            rated.add((u.user_id, q.item_id))
                            data.reviews[(u.user_id, q.item_id, u.timestamp)] = u.rating
        for p in sorted(folder.glob("*.json")):
            data.inputs[f"{cat}/{p.name}"] = sha256_file(p)
    return data


def write_release_files(data: ReleaseData, out: Path, report: ReleaseImportReport) -> None:
    """The questions, reviews.parquet and items.parquet (through the builder's columns,
    `build.columns`) and the profiles, into the existing, empty directory `out`; the
    counts go to `report`."""
    import pyarrow as pa

    from ...builder.columns import ITEMS_SCHEMA, REVIEWS_SCHEMA, items_sink, reviews_sink

    def table(records: list[Any], schema: pa.Schema) -> pa.Table:
        return pa.table({c: [getattr(r, c) for r in records] for c in schema.names}, schema=schema)

    (out / "profiles").mkdir()
    for (split, level), bucket in sorted(data.questions.items()):
        n = write_questions(questions_file(out, split, level), bucket.values())
        report.questions.setdefault(split, {})[level] = n
    rows = data.review_rows()
    with reviews_sink(out / REVIEWS) as sink:
        sink.write(table(rows, REVIEWS_SCHEMA))
    items = [data.items[k] for k in sorted(data.items)]
    with items_sink(out / ITEMS) as sink:
        sink.write(table(items, ITEMS_SCHEMA))
    (out / PROFILES_OUT).write_text(
        json.dumps(data.profiles, ensure_ascii=False, sort_keys=True), encoding="utf-8"
    )
    report.reviews, report.items, report.profiles = len(rows), len(items), len(data.profiles)


def release_manifest(data: ReleaseData, report: ReleaseImportReport, name: str) -> BenchManifest:
    """The imported benchmark's manifest: the import's rules, the inputs' checksums and
    what `report` counted while reading and writing."""
    manifest = BenchManifest(
        name=name,
        kind="perrecbench",
        source="authors-release",
        tool_version=__version__,
        categories=list(data.categories),
        params={
            "user_mean": "all",
            "groups": "first group of each item",
            "timestamps": "synthesized" if report.users_synthesized_time else "given",
        },
        inputs=data.inputs,
        counts=BenchCounts(
            questions=report.questions,
            context_reviews=report.reviews,
            items=report.items,
            profiles=report.profiles,
            skipped=dict(report.skipped),
            users_with_synthesized_timestamps=report.users_synthesized_time,
            history_len_mismatches=report.history_len_mismatches,
        ),
    )
    if report.examples:  # the first bad entries of each file, as the builder's `bad_lines`
        manifest = manifest.model_copy(update={"bad_lines": list(report.examples)})
    return manifest


@locked("out_dir")
def import_release(
    data_dir: Path | str, out_dir: Path | str, categories: Iterable[str] | None = None
) -> ReleaseImportReport:
    """Read the authors' layout and write a benchmark directory in our format."""
    folders = find_release_folders(data_dir, categories)
    out_dir = Path(out_dir)
    check_target(out_dir)  # before minutes of parsing, not after
    report = ReleaseImportReport(out_dir, list(folders))
    data = read_release(folders, report)
    if not any(data.questions.values()):
        raise InputDataError(
            f"{data_dir}: no usable groups in any {GROUP_FILE.format(level='*')} or held_out file"
        )
    with staged_directory(out_dir) as tmp:  # a crash leaves the earlier benchmark as it was
        write_release_files(data, tmp, report)
        write_manifest(tmp, release_manifest(data, report, out_dir.name))
    return report
