"""A tiny hand-made benchmark directory for LLM runner tests (fast; no builder needed)."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from perrecbench import GROUP_SIZE
from perrecbench.bench import ITEMS, REVIEWS, questions_file, write_manifest, write_questions
from perrecbench.records import BenchManifest
from perrecbench.types import Member, Question

TOPICS = ("mystery", "cooking", "space", "gardening", "history", "poetry")


def make_tiny_bench(path: Path, per_level: int = 4, heldout: int = 3, n_users: int = 16,
                    history: int = 12, seed: int = 7) -> Path:
    """Write a benchmark with `per_level` test and `heldout` held-out questions per level."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    items = [
        {"item_id": f"i{k}", "title": f"A book about {TOPICS[k % len(TOPICS)]} no. {k}",
         "author": f"Author {k % 7}" if k % 3 else None, "category": "Books",
         "description": f"Everything on {TOPICS[k % len(TOPICS)]}."}
        for k in range(60)
    ]
    reviews = []
    hist: dict[str, list[float]] = {}
    for u in range(n_users):
        uid = f"u{u}"
        bias = rng.choice([-1, 0, 0, 1])
        ratings = []
        for j, k in enumerate(rng.sample(range(60), history)):
            r = float(min(5, max(1, rng.randint(2, 4) + bias)))
            ratings.append(r)
            reviews.append({"user_id": uid, "item_id": f"i{k}", "rating": r, "timestamp": 1000 * (j + 1)})
        hist[uid] = ratings
    questions: dict[tuple[str, str], list[Question]] = {}
    qn = 0
    for split, count in (("test", per_level), ("heldout", heldout)):
        for level, n in GROUP_SIZE.items():
            qs = []
            for j in range(count):
                item = f"q{qn}"
                qn += 1
                items.append({"item_id": item, "title": f"The query book {item} on {TOPICS[qn % 6]}",
                              "author": "Q. Writer", "category": "Books", "description": "A query item."})
                users = rng.sample(sorted(hist), n)
                members = []
                ts = 100_000 + 1000 * qn
                for m, uid in enumerate(users):
                    avg = sum(hist[uid]) / len(hist[uid])
                    rating = float(rng.randint(1, 5))
                    common = Counter(hist[uid]).most_common(1)[0][0]
                    members.append(Member(uid, rating, rating - avg + 0.001 * m, avg, common,
                                          len(hist[uid]), ts + m))
                    reviews.append({"user_id": uid, "item_id": item, "rating": rating, "timestamp": ts + m})
                qs.append(Question(f"{split}-{level}-{j}", level, split, item, ts, tuple(members)))
            questions[(split, level)] = qs
    for (split, level), qs in questions.items():
        write_questions(questions_file(path, split, level), qs)
    pq.write_table(pa.Table.from_pylist(reviews), path / REVIEWS)
    pq.write_table(pa.Table.from_pylist(items), path / ITEMS)
    write_manifest(path, BenchManifest(name="tiny", seed=seed, per_level=per_level))
    return path
