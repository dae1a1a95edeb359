"""Writing a benchmark in the authors' layout (SPEC 2.2), so their code can run on it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ...bench import Benchmark
from ...locking import locked
from .layout import (
    GROUP_FILE,
    HELDOUT_FILE,
    HISTORY_FILE,
    ITEM_FILE,
    PROFILE_FILE,
    PROFILES_OUT,
    read_json,
)


def _category_name(bench: Benchmark) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", bench.manifest.name).strip("._-")
    return name or "perrecbench"


def _dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


@locked("out_dir")
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
                groups.setdefault(q.item_id, []).append([m.to_dict() for m in q.users])
            _dump(folder / pattern.format(level=level), groups)
    prof = bench.path / PROFILES_OUT
    _dump(folder / PROFILE_FILE, read_json(prof) if prof.exists() else {})
    return folder


