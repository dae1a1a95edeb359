"""A straightforward pure-Python/json build, the baseline for benchmarks/build_speed.py.

It reads the Amazon-2023 JSONL review file line by line with `json.loads`, keeps
everything in dicts and lists, and implements the same rules as the DuckDB builder
(earliest review per user and item, strictly-earlier user averages, the same group
choice and splits), so the two can be compared for speed *and* checked for equal
output. Usage: python benchmarks/reference_build.py REVIEWS.jsonl OUT_DIR [--seed 0]
"""

from __future__ import annotations

import argparse
import bisect
import json
import sys
from collections import defaultdict
from pathlib import Path

from perrecbench.bench import questions_file, write_questions
from perrecbench.builder.grouping import choose_group, item_rng
from perrecbench.builder.params import BuildParams
from perrecbench.builder.splits import split_items
from perrecbench.types import Member, Question


def most_common(ratings: list[float]) -> float:
    counts: dict[float, int] = {}
    for r in ratings:
        counts[r] = counts.get(r, 0) + 1
    best = max(counts.values())
    return next(r for r in ratings if counts[r] == best)


def build(reviews_path: Path, out: Path, params: BuildParams) -> dict[str, dict[str, int]]:
    first: dict[tuple[str, str], tuple[int, float]] = {}
    with open(reviews_path, encoding="utf-8") as fh:
        for line in fh:
            try:
                d = json.loads(line)
                key = (d["user_id"], d.get("parent_asin") or d["asin"])
                rec = (int(d["timestamp"]), float(d["rating"]))
            except (ValueError, KeyError, TypeError):
                continue
            if not 1.0 <= rec[1] <= 5.0:
                continue
            old = first.get(key)
            if old is None or rec < old:
                first[key] = rec
    by_user: dict[str, list[tuple[int, str, float]]] = defaultdict(list)
    for (u, i), (t, r) in first.items():
        by_user[u].append((t, i, r))
    cands: dict[str, list[tuple[int, str, float, float, float, int]]] = defaultdict(list)
    for u, rows in by_user.items():
        rows.sort()
        ts = [t for t, _, _ in rows]
        prefix = [0.0]
        for _, _, r in rows:
            prefix.append(prefix[-1] + r)
        for t, i, r in rows:
            k = bisect.bisect_left(ts, t)  # strictly earlier reviews
            if k >= params.min_history and k > 0:
                avg = prefix[k] / k
                cands[i].append((t, u, r, r - avg, avg, k))
    groups: dict[str, dict[str, list]] = {lv: {} for lv in params.levels}
    for item in sorted(cands):
        rows = sorted(cands[item])
        if len(rows) < 2:
            continue
        ts = [r[0] for r in rows]
        rel = [r[3] for r in rows]
        for lv in params.levels:
            pick = choose_group(ts, rel, params.group_size[lv], params.min_gap[lv],
                                params.window_ms, item_rng(params.seed, item, lv), params.max_candidates)
            if pick is not None:
                groups[lv][item] = [rows[p] for p in pick]
    splits = split_items({lv: set(g) for lv, g in groups.items()}, params.n_items,
                         params.n_heldout, params.max_train, params.seed)
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, dict[str, int]] = {}
    for split, by_level in splits.items():
        counts[split] = {}
        for lv, items in by_level.items():
            qs = []
            for item in items:
                members = []
                for t, u, r, rel, avg, k in groups[lv][item]:
                    earlier = [x[2] for x in by_user[u][:k]]
                    members.append(Member(u, r, round(rel, 6), round(avg, 6),
                                          float(most_common(earlier)), k, t))
                item_rng(params.seed, item, lv + "/order").shuffle(members)
                qs.append(Question(f"{lv}-{item}", lv, split, item,
                                   min(m.timestamp for m in members), tuple(members)))
            counts[split][lv] = write_questions(questions_file(out, split, lv), qs)
    return counts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("reviews", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-train", type=int, default=None)
    args = ap.parse_args()
    counts = build(args.reviews, args.out, BuildParams(seed=args.seed, max_train=args.max_train))
    json.dump(counts, sys.stdout)


if __name__ == "__main__":
    main()
