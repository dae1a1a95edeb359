"""A small Amazon-2023-format review file whose DuckDB tables outgrow a tiny memory limit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

PAD = "x" * 56  # long ids: the tables DuckDB sorts are big for their row count


def write_reviews(folder: Path, n_users: int = 12_000, per_user: int = 25, seed: int = 0) -> tuple[Path, Path]:
    """reviews.jsonl and meta.jsonl: users with habits, items with quality, Zipf popularity."""
    rng = np.random.default_rng(seed)
    n_items = max(10, n_users // 4)
    bias, quality = rng.normal(0, 0.6, n_users), rng.normal(0, 0.5, n_items)
    pop = 1.0 / np.arange(1, n_items + 1) ** 0.9
    users = np.repeat(np.arange(n_users), per_user)
    items = rng.choice(n_items, size=len(users), p=pop / pop.sum())
    ts = 1_500_000_000_000 + rng.integers(0, 3 * 365 * 86_400_000, size=len(users))
    ratings = np.clip(np.rint(3.9 + bias[users] + quality[items] + rng.normal(0, 0.9, len(users))), 1, 5)
    folder.mkdir(parents=True, exist_ok=True)
    reviews, meta = folder / "reviews.jsonl", folder / "meta.jsonl"
    with open(reviews, "w", encoding="utf-8") as fh:
        fh.writelines(
            f'{{"rating": {r:.1f}, "text": "t", "parent_asin": "B{i:09d}{PAD}", '
            f'"user_id": "U{u:08d}{PAD}", "timestamp": {t}}}\n'
            for u, i, t, r in zip(users.tolist(), items.tolist(), ts.tolist(), ratings.tolist(), strict=True)
        )
        fh.write('{"rating": 5.0, "title": "cut off\n')  # real files have the odd broken line
    with open(meta, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps({"parent_asin": f"B{i:09d}{PAD}", "title": f"Book {i}"}) + "\n"
                      for i in range(n_items))
    return reviews, meta
