"""The authors' released data layout (SPEC 2.2), both ways, and their prediction files.

    <data>/<cat>/<cat>-processed/
      parentasin2item.json                     {parent_asin: item}; title, author.name
      userid2history.json                      {user_id: [review, ...]} in time order
      item2group_avg_diff_sample-{level}.json  {query_asin: [group, ...]}, group = [member]
      held_out-{level}.json                    same shape: the few-shot pool
      userid2profile.json                      {user_id: profile text}

Import rules: only the first group of each item counts (as in the released evaluator);
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

import hashlib
import json
import re
import shutil
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import LEVELS, METHODS, __version__
from ..bench import (
    ITEMS,
    MANIFEST,
    REVIEWS,
    Benchmark,
    questions_file,
    write_manifest,
    write_questions,
)
from ..errors import ConfigError, InputDataError
from ..run.rundir import PREDICTIONS, PredictionRecord, RunDir, bench_fingerprint
from ..types import Member, Prediction, Question

ITEM_FILE = "parentasin2item.json"
HISTORY_FILE = "userid2history.json"
PROFILE_FILE = "userid2profile.json"
GROUP_FILE = "item2group_avg_diff_sample-{level}.json"
HELDOUT_FILE = "held_out-{level}.json"
PROFILES_OUT = "profiles/release.json"
FAILED_MARK = "format_not_correct"
SYNTH_START_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
SYNTH_STEP_MS = 86_400_000  # one day between synthetic history entries


# --- reading ------------------------------------------------------------------------------


def _read_json(path: Path, kind: type = dict) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise InputDataError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputDataError(f"{path}: cannot read ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise InputDataError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
    if not isinstance(data, kind):
        raise InputDataError(
            f"{path}: expected a JSON {'object' if kind is dict else kind.__name__}"
        )
    return data


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def find_release_folders(
    data_dir: Path | str, categories: Iterable[str] | None = None
) -> dict[str, Path]:
    """Category name -> its `<cat>-processed` folder.

    `data_dir` may be the unzipped root (holding `data/`), the `data/` folder, one
    `<cat>` folder, or a `<cat>-processed` folder itself.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise InputDataError(f"{root}: not a directory")
    if (root / ITEM_FILE).exists():
        found = {root.name.removesuffix("-processed"): root}
    else:
        found = {}
        for pattern in ("*-processed", "*/*-processed", "data/*/*-processed"):
            for p in sorted(root.glob(pattern)):
                if (p / ITEM_FILE).exists():
                    found.setdefault(p.name.removesuffix("-processed"), p)
    if categories:
        wanted = list(categories)
        unknown = [c for c in wanted if c not in found]
        if unknown:
            raise InputDataError(f"{root}: no release folder for {unknown} (found {sorted(found)})")
        found = {c: found[c] for c in wanted}
    if not found:
        raise InputDataError(
            f"{root}: no <cat>-processed folder with {ITEM_FILE} (see SPEC 2.2 for the layout)"
        )
    return found


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
    data = _read_json(path)
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


def _prepare_out(out_dir: Path) -> Path:
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MANIFEST).exists():
        raise ConfigError(
            f"{out_dir} exists and is not a benchmark directory; choose another --out"
        )
    tmp = out_dir.with_name(out_dir.name + ".importing")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "profiles").mkdir(parents=True)
    return tmp


def import_release(
    data_dir: Path | str, out_dir: Path | str, categories: Iterable[str] | None = None
) -> ReleaseImportReport:
    """Read the authors' layout and write a benchmark directory in our format."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folders = find_release_folders(data_dir, categories)
    out_dir = Path(out_dir)
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
        for asin, item in _read_json(folder / ITEM_FILE).items():
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
            for uid, raw in _read_json(folder / HISTORY_FILE).items()
        }
        for uid, hist in histories.items():
            for e in hist.valid():
                reviews.setdefault((uid, e.item_id, e.timestamp), e.rating)
                rated.add((uid, e.item_id))
        if (folder / PROFILE_FILE).exists():
            for uid, text in _read_json(folder / PROFILE_FILE).items():
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
            inputs[f"{cat}/{p.name}"] = _sha256(p)
    if not any(questions.values()):
        raise InputDataError(
            f"{data_dir}: no usable groups in any {GROUP_FILE.format(level='*')} or held_out file"
        )

    tmp = _prepare_out(out_dir)
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
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)
    return report


# --- writing ------------------------------------------------------------------------------


def _category_name(bench: Benchmark) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(bench.manifest.get("name") or "")).strip("._-")
    return name or "perrecbench"


def _dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _member_dict(m: Member) -> dict[str, Any]:
    return {
        "user_id": m.user_id,
        "history_len": m.history_len,
        "relative_rating": m.relative_rating,
        "avg_rating": m.avg_rating,
        "rating": m.rating,
        "most_common_rating": m.most_common_rating,
        "timestamp": m.timestamp,
    }


def export_release(bench_dir: Path | str, out_dir: Path | str) -> Path:
    """Write a benchmark in the authors' layout under `out_dir/<cat>/<cat>-processed/`.

    `out_dir` plays the role of the release's `data/` folder. Test questions go to the
    group files, held-out ones to the held_out files (train questions have no place in
    the layout). History entries carry `relative_rating` = rating minus the user's mean
    over all their stored reviews, as the release computed it. Returns the folder.
    """
    bench = Benchmark(bench_dir)
    ctx = bench.context
    cat = _category_name(bench)
    folder = Path(out_dir) / cat / f"{cat}-processed"
    folder.mkdir(parents=True, exist_ok=True)
    items = {}
    for iid, it in sorted(ctx.items.items()):
        d: dict[str, Any] = {"parent_asin": iid, "title": it.title}
        if it.author:
            d["author"] = {"name": it.author}
        if it.category:
            d["main_category"] = it.category
        if it.description:
            d["description"] = [it.description]
        items[iid] = d
    _dump(folder / ITEM_FILE, items)
    history = {}
    for uid in sorted(ctx.users()):
        revs = ctx.history(uid, before=2**62)
        mean = sum(r.rating for r in revs) / len(revs)
        history[uid] = [
            {
                "user_id": uid,
                "parent_asin": r.item_id,
                "rating": r.rating,
                "timestamp": r.timestamp,
                "relative_rating": r.rating - mean,
            }  # fmt: skip
            for r in revs
        ]
    _dump(folder / HISTORY_FILE, history)
    for split, pattern in (("test", GROUP_FILE), ("heldout", HELDOUT_FILE)):
        for level in bench.available(split):
            groups: dict[str, list[list[dict[str, Any]]]] = {}
            for q in bench.questions(split, level):
                groups.setdefault(q.item_id, []).append([_member_dict(m) for m in q.users])
            _dump(folder / pattern.format(level=level), groups)
    prof = bench.path / PROFILES_OUT
    _dump(folder / PROFILE_FILE, _read_json(prof) if prof.exists() else {})
    return folder


# --- their prediction files ------------------------------------------------------------------


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


def _failed(qid: str, category: str, raw: Any) -> Prediction:
    return Prediction(question_id=qid, status="failed", failure=category,
                      failure_detail=json.dumps(raw)[:200], extra={"raw": raw})  # fmt: skip


def parse_release_entry(value: Any, question: Question, method: str) -> Prediction:
    """One item's value from a release prediction file -> Prediction (first group only).

    point: `[[r1, ..., rn]]` predicted ratings in member order; pair/list: `[[[ids]]]`
    best-first 1-based ids. "format_not_correct" anywhere marks a failed answer.
    """
    qid, n = question.id, question.n
    if isinstance(value, str) or not isinstance(value, list) or not value:
        return _failed(qid, FAILED_MARK if value == FAILED_MARK else "bad_shape", value)
    entry = value[0]
    if method == "point":
        if isinstance(entry, str) or (
            isinstance(entry, list) and any(isinstance(x, str) for x in entry)
        ):
            return _failed(qid, FAILED_MARK, entry)
        if not isinstance(entry, list) or not all(isinstance(x, (int, float)) for x in entry):
            return _failed(qid, "bad_shape", entry)
        if len(entry) != n:
            return _failed(qid, "wrong_length", entry)
        ratings = [float(x) for x in entry]
        scores = [r - m.avg_rating for r, m in zip(ratings, question.users, strict=True)]
        order = sorted(range(n), key=lambda i: -scores[i])
        return Prediction(
            question_id=qid, order=order, scores=scores, ratings=list(ratings), extra={"raw": entry}
        )
    ids = (
        entry[0]
        if isinstance(entry, list) and entry and isinstance(entry[0], (list, str))
        else entry
    )
    if isinstance(ids, str):
        return _failed(qid, FAILED_MARK, entry)
    if not isinstance(ids, list) or sorted(x if isinstance(x, int) else -1 for x in ids) != list(
        range(1, n + 1)
    ):
        return _failed(qid, "invalid_ranking", entry)
    return Prediction(question_id=qid, order=[i - 1 for i in ids], extra={"raw": ids})


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
    data = _read_json(Path(pred_file))
    rd = RunDir(out_dir)
    report = ResultsImportReport(Path(out_dir), level, method)
    new: list[PredictionRecord] = []
    for asin, value in data.items():
        q = by_item.get(str(asin))
        if q is None:
            report.unknown_items += 1
            continue
        pred = parse_release_entry(value, q, method)
        new.append(PredictionRecord(level, "test", pred))
        report.written += 1
        if not pred.ok:
            report.failed += 1
            report.failures[pred.failure or "failed"] += 1
    report.missing = len(by_item) - len({r.prediction.question_id for r in new})
    if not new:
        raise InputDataError(
            f"{pred_file}: no item matches a {level} test question of {bench.path}"
        )
    old = rd.read_manifest() if rd.exists() else {}
    manifest = {
        "model": model,
        "method": method,
        "split": "test",
        "bench": str(bench.path.resolve()),
        "bench_name": bench.name,
        "bench_fingerprint": bench_fingerprint(bench.path),
        "levels": [level],
        "model_config": {"source": "authors-release-results"},
        "imported_from": {**old.get("imported_from", {}), level: str(Path(pred_file).resolve())},
    }
    rd.open_or_create(manifest, ("model", "method", "split", "bench_fingerprint"))
    keep = [r for r in rd.read_predictions(repair=True) if r.level != level]
    tmp = rd.path / (PREDICTIONS + ".tmp")
    tmp.write_text("".join(r.to_json() + "\n" for r in keep + new), encoding="utf-8")
    tmp.replace(rd.path / PREDICTIONS)
    return report
