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
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...bench import ITEMS, REVIEWS, questions_file, write_manifest, write_questions
from ...build.staging import check_target, staged_directory
from ...constants import LEVELS, __version__
from ...data.files import sha256_file
from ...errors import InputDataError
from ...locking import locked
from ...types import Member, Question
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

    def skip(self, reason: str, where: str) -> None:
        self.skipped[reason] += 1
        if len(self.examples) < 10:
            self.examples.append(f"{where}: {reason}")


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
        report.skip("history is not a list", f"{where} user {uid}")
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
        if asin is None or not isinstance(rating, (int, float)):
            report.skip(
                "history entry without parent_asin or rating", f"{where} user {uid} entry {j}"
            )
            out.append(None)
            continue
        ts = SYNTH_START_MS + j * SYNTH_STEP_MS if synth else int(e["timestamp"])
        out.append(_Entry(str(asin), float(rating), ts))
    return _History(out, synth)


def _member(m: Any, asin: str, hist: _History, report: ReleaseImportReport) -> Member:
    """A group member with the truth as given; raises KeyError/TypeError/ValueError if unusable."""
    uid = str(m["user_id"])
    rel, avg = float(m["relative_rating"]), float(m["avg_rating"])
    qi = hist.index_of(asin)
    h = int(m["history_len"]) if "history_len" in m else qi
    if h is None:
        raise KeyError("history_len")
    query = hist.entries[qi] if qi is not None else None
    entries = hist.valid()
    if "timestamp" in m:
        ts = int(m["timestamp"])
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
        rating = float(m["rating"])
    elif query is not None:
        rating = query.rating
    else:
        rating = avg + rel
    if "most_common_rating" in m:
        mcr = float(m["most_common_rating"])
    else:
        past = [e.rating for e in hist.valid(h)]
        mcr = Counter(past).most_common(1)[0][0] if past else avg
    return Member(uid, rating, rel, avg, mcr, h, ts)


def _questions(
    path: Path, level: str, split: str, histories: dict[str, _History], report: ReleaseImportReport
) -> list[Question]:
    data = read_json(path)
    out = []
    for asin, groups in data.items():
        where = f"{path} item {asin}"
        if isinstance(groups, list) and groups and isinstance(groups[0], dict):
            groups = [groups]  # a single group instead of a list of groups
        if not isinstance(groups, list) or not groups or not isinstance(groups[0], list):
            report.skip("no group", where)
            continue
        if len(groups) > 1:
            report.skipped["extra groups ignored (first group counts)"] += len(groups) - 1
        try:
            users = tuple(
                _member(m, str(asin), histories.get(str(m["user_id"]), _History([], False)), report)
                for m in groups[0]
            )
        except (KeyError, TypeError, ValueError) as exc:
            report.skip(f"member without usable {exc}", where)
            continue
        if len(users) < 2:
            report.skip("group with fewer than 2 members", where)
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


@locked("out_dir")
def import_release(
    data_dir: Path | str, out_dir: Path | str, categories: Iterable[str] | None = None
) -> ReleaseImportReport:
    """Read the authors' layout and write a benchmark directory in our format."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folders = find_release_folders(data_dir, categories)
    out_dir = Path(out_dir)
    check_target(out_dir)  # before minutes of parsing, not after
    report = ReleaseImportReport(out_dir, list(folders))
    questions: dict[tuple[str, str], dict[str, Question]] = {}
    # (user, item, time) -> rating: history entries are kept as listed (a repeated item
    # in one list stays, so history_len still counts right); the same entry seen in two
    # categories is stored once
    reviews: dict[tuple[str, str, int], float] = {}
    rated: set[tuple[str, str]] = set()
    items: dict[str, dict[str, Any]] = {}
    profiles: dict[str, str] = {}
    inputs: dict[str, str] = {}
    for cat, folder in folders.items():
        for name in (ITEM_FILE, HISTORY_FILE):
            if not (folder / name).exists():
                raise InputDataError(
                    f"{folder / name}: file not found (required in a release folder)"
                )
        for asin, item in read_json(folder / ITEM_FILE).items():
            if not isinstance(item, dict):
                report.skip("item metadata is not an object", f"{folder / ITEM_FILE} item {asin}")
                continue
            items.setdefault(
                str(asin),
                {
                    "item_id": str(asin),
                    "title": str(item.get("title") or ""),
                    "author": _author(item),
                    "category": str(item.get("main_category") or cat),
                    "description": _description(item),
                },
            )
        histories = {
            str(uid): _history(str(uid), raw, report, str(folder / HISTORY_FILE))
            for uid, raw in read_json(folder / HISTORY_FILE).items()
        }
        for uid, hist in histories.items():
            for e in hist.valid():
                reviews.setdefault((uid, e.item_id, e.timestamp), e.rating)
                rated.add((uid, e.item_id))
        if (folder / PROFILE_FILE).exists():
            for uid, text in read_json(folder / PROFILE_FILE).items():
                if isinstance(text, str):
                    profiles.setdefault(str(uid), text)
        for split, pattern in (("test", GROUP_FILE), ("heldout", HELDOUT_FILE)):
            for level in LEVELS:
                path = folder / pattern.format(level=level)
                if not path.exists():
                    continue
                bucket = questions.setdefault((split, level), {})
                for q in _questions(path, level, split, histories, report):
                    if q.id in bucket:
                        report.skip(
                            "item already imported from another category",
                            f"{path} item {q.item_id}",
                        )
                        continue
                    bucket[q.id] = q
                    for u in q.users:  # every review of every query item is context
                        if (u.user_id, q.item_id) not in rated:
                            rated.add((u.user_id, q.item_id))
                            reviews[(u.user_id, q.item_id, u.timestamp)] = u.rating
        for p in sorted(folder.glob("*.json")):
            inputs[f"{cat}/{p.name}"] = sha256_file(p)
    if not any(questions.values()):
        raise InputDataError(
            f"{data_dir}: no usable groups in any {GROUP_FILE.format(level='*')} or held_out file"
        )

    with staged_directory(out_dir) as tmp:  # a crash leaves the earlier benchmark as it was
        (tmp / "profiles").mkdir()
        for (split, level), bucket in sorted(questions.items()):
            n = write_questions(questions_file(tmp, split, level), bucket.values())
            report.questions.setdefault(split, {})[level] = n
        rows = sorted(
            ((u, i, r, t) for (u, i, t), r in reviews.items()), key=lambda x: (x[0], x[3], x[1])
        )
        rschema = pa.schema(
            [
                ("user_id", pa.string()),
                ("item_id", pa.string()),
                ("rating", pa.float64()),
                ("timestamp", pa.int64()),
            ]
        )
        pq.write_table(
            pa.Table.from_pylist(
                [dict(zip(rschema.names, r, strict=True)) for r in rows], schema=rschema
            ),
            tmp / REVIEWS,
        )
        ischema = pa.schema(
            [(k, pa.string()) for k in ("item_id", "title", "author", "category", "description")]
        )
        pq.write_table(
            pa.Table.from_pylist([items[k] for k in sorted(items)], schema=ischema), tmp / ITEMS
        )
        (tmp / PROFILES_OUT).write_text(
            json.dumps(profiles, ensure_ascii=False, sort_keys=True), encoding="utf-8"
        )
        report.reviews, report.items, report.profiles = len(rows), len(items), len(profiles)
        write_manifest(
            tmp,
            {
                "name": out_dir.name,
                "kind": "perrecbench",
                "source": "authors-release",
                "tool_version": __version__,
                "categories": list(folders),
                "params": {
                    "user_mean": "all",
                    "groups": "first group of each item",
                    "timestamps": "synthesized" if report.users_synthesized_time else "given",
                },
                "inputs": inputs,
                "counts": {
                    "questions": report.questions,
                    "context_reviews": report.reviews,
                    "items": report.items,
                    "profiles": report.profiles,
                    "skipped": dict(report.skipped),
                    "users_with_synthesized_timestamps": report.users_synthesized_time,
                    "history_len_mismatches": report.history_len_mismatches,
                },
            },
        )
    return report


