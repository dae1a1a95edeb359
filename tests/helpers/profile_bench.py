"""A small but complete benchmark with user profiles' material: four users with distinct
tastes and habits, ten history items, two query items (test and held-out)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from perrecbench.bench import Benchmark, questions_file, write_manifest, write_questions
from perrecbench.records import BenchManifest
from perrecbench.types import Member, Question

DAY = 86_400_000
T0 = 1_600_000_000_000
BOOKS = [
    ("Murder at the Manor", "Agatha Stone", "Books"),
    ("The Detective's Clue", "Agatha Stone", "Books"),
    ("Galaxy Station", "Ray Orbit", "Books"),
    ("Robots of Mars", "Ray Orbit", "Books"),
    ("Love in Paris", "Rose Heart", "Books"),
    ("Wedding Season", "Rose Heart", "Books"),
    ("USB-C Charger 65W", None, "Electronics"),
    ("Noise Cancelling Headphones", None, "Electronics"),
    ("Cast Iron Skillet", None, "Home & Kitchen"),
    ("Baking Bread at Home", "Flour Baker", "Books"),
]
QUERIES = {"q1": ("The Inspector's Last Alibi", "Agatha Stone"), "q2": ("Starship Colony", "Ray Orbit")}
# user -> ratings of BOOKS items i0..i9 (None = not rated), avg bias differs per user
RATINGS = {
    "u1": [5, 5, 2, 2, 3, 3, 4, 4, 3, 4],
    "u2": [2, 3, 5, 5, 1, None, 3, 3, 2, 2],
    "u3": [4, 4, 4, 5, 5, 5, 5, None, 4, 5],
    "u4": [1, 1, 3, 2, 5, 5, 2, 2, 1, None],
}


def make_bench(root: Path) -> Benchmark:
    """A small but complete benchmark directory (test: q1 easy/medium; heldout: q2)."""
    root.mkdir(parents=True, exist_ok=True)
    reviews = []
    for u_idx, (user, ratings) in enumerate(RATINGS.items()):
        for i, r in enumerate(ratings):
            if r is not None:
                reviews.append((user, f"i{i}", float(r), T0 + (i * 10 + u_idx) * DAY))
        reviews.append((user, "q1", [5.0, 2.0, 4.0, 4.0][u_idx], T0 + (200 + u_idx) * DAY))
        reviews.append((user, "q2", [2.0, 5.0, 5.0, 1.0][u_idx], T0 + (300 + u_idx) * DAY))
    cols = list(zip(*reviews, strict=True))
    pq.write_table(
        pa.table({"user_id": cols[0], "item_id": cols[1], "rating": cols[2], "timestamp": cols[3]}),
        root / "reviews.parquet",
    )
    items = [(f"i{i}", t, a, c) for i, (t, a, c) in enumerate(BOOKS)]
    items += [(k, t, a, "Books") for k, (t, a) in QUERIES.items()]
    cols = list(zip(*items, strict=True))
    pq.write_table(
        pa.table({"item_id": cols[0], "title": cols[1], "author": cols[2], "category": cols[3],
                  "description": [f"About {t}." for t in cols[1]]}),
        root / "items.parquet",
    )

    def member(user: str, item: str) -> Member:
        mine = [r for r in reviews if r[0] == user]
        target = next(r for r in mine if r[1] == item)
        before = [r[2] for r in mine if r[3] < target[3]]
        avg = sum(before) / len(before)
        return Member(user, target[2], target[2] - avg, avg, max(set(before), key=before.count),
                      len(before), target[3])

    def question(qid, level, split, item, users):
        ms = tuple(member(u, item) for u in users)
        return Question(qid, level, split, item, min(m.timestamp for m in ms), ms)

    write_questions(questions_file(root, "test", "easy"), [question("test-easy-q1", "easy", "test", "q1", ["u1", "u2"])])
    write_questions(questions_file(root, "test", "medium"),
                    [question("test-medium-q1", "medium", "test", "q1", ["u1", "u2", "u3"])])
    write_questions(questions_file(root, "heldout", "medium"),
                    [question("heldout-medium-q2", "medium", "heldout", "q2", ["u2", "u3", "u4"])])
    write_questions(questions_file(root, "heldout", "easy"),
                    [question("heldout-easy-q2", "easy", "heldout", "q2", ["u1", "u4"])])
    write_manifest(root, BenchManifest(name="mini"))
    return Benchmark(root)
