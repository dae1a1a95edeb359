"""Splitting query items into test / held-out / train (pure, seeded).

Test items are drawn first from items that have a group at *every* level, so the
levels ask about the same items when the data allows it (as the release did);
levels short of items are topped up with items that have that level only.
Every item lands in at most one split, so few-shot demos and fine-tuning data never
touch test items.
"""

from __future__ import annotations

import numpy as np


def split_items(
    items_by_level: dict[str, set[str]],
    n_test: int,
    n_heldout: int,
    max_train: int | None,
    seed: int,
) -> dict[str, dict[str, list[str]]]:
    """Return {split: {level: [item ids]}} with disjoint item sets across splits."""
    rng = np.random.default_rng(seed)
    levels = list(items_by_level)
    all_items = sorted(set().union(*items_by_level.values())) if levels else []
    common = sorted(set.intersection(*items_by_level.values())) if levels else []
    common_perm = [common[i] for i in rng.permutation(len(common))]

    used: set[str] = set()
    out: dict[str, dict[str, list[str]]] = {"test": {}, "heldout": {}, "train": {}}
    test_common = common_perm[:n_test]
    used.update(test_common)
    for lv in levels:
        chosen = list(test_common)
        if len(chosen) < n_test:
            extra = sorted(items_by_level[lv] - used)
            extra = [extra[i] for i in rng.permutation(len(extra))][: n_test - len(chosen)]
            chosen += extra
            used.update(extra)
        out["test"][lv] = chosen

    rest = [it for it in all_items if it not in used]
    rest = [rest[i] for i in rng.permutation(len(rest))]
    # held-out: the first n_heldout remaining items per level, preferring shared items
    heldout_used: set[str] = set()
    for lv in levels:
        pool = [it for it in rest if it in items_by_level[lv]]
        shared_first = [it for it in pool if it in heldout_used] + [
            it for it in pool if it not in heldout_used
        ]
        chosen = shared_first[:n_heldout]
        out["heldout"][lv] = chosen
        heldout_used.update(chosen)
    for lv in levels:
        pool = [it for it in rest if it in items_by_level[lv] and it not in heldout_used]
        out["train"][lv] = pool if max_train is None else pool[:max_train]
    for split in out:
        for lv in levels:
            out[split][lv] = sorted(out[split][lv])
    return out
