"""A seeded synthetic review world whose ratings mix habit, quality and personal taste.

Why: tests, demos and scale checks need data with a *known* answer. Each rating is

    clip(round(base + user_bias + item_quality + taste_strength * <taste_u, topics_i> + noise), 1, 5)

so the user's habit (bias) and the item's quality are real but carry no personal
signal, while the taste term does. Item topics also show in titles, authors and
categories, so content-based and LLM methods have something to read. The world's
true parameters stay available (`SyntheticWorld`) to check the benchmark's premise.

Reviews are generated in fixed blocks of users, each with its own seeded
`numpy.random.Generator`, so `load_synthetic` (in memory) and `write_synthetic`
(streamed to Amazon-Reviews-2023-style JSONL) produce the same reviews.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from ..errors import ConfigError
from .report import LoadReport

USER_BLOCK = 1024  # users per generation block; fixed so results never depend on chunking
DAY_MS = 86_400_000
START_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z

# topic name -> words its items' titles and descriptions are made of
TOPICS: dict[str, tuple[str, ...]] = {
    "Mystery": ("detective", "murder", "clue", "alibi", "suspect", "secret", "inspector", "crime"),
    "Romance": ("love", "heart", "kiss", "wedding", "passion", "bride", "desire", "sweetheart"),
    "Science Fiction": ("galaxy", "robot", "starship", "alien", "quantum", "android", "orbit", "colony"),
    "Fantasy": ("dragon", "sword", "wizard", "kingdom", "quest", "magic", "elf", "throne"),
    "History": ("empire", "war", "revolution", "century", "ancient", "battle", "dynasty", "treaty"),
    "Cooking": ("kitchen", "recipe", "bread", "spice", "baking", "feast", "soup", "flavor"),
    "Travel": ("journey", "island", "road", "map", "voyage", "mountain", "coast", "passport"),
    "Self-Help": ("habit", "success", "mindset", "focus", "wealth", "calm", "purpose", "confidence"),
    "Horror": ("ghost", "haunted", "blood", "curse", "grave", "fear", "demon", "nightmare"),
    "Children": ("bunny", "bedtime", "puppy", "rainbow", "teddy", "giggle", "playground", "kitten"),
    "Business": ("market", "startup", "leader", "strategy", "money", "sales", "negotiation", "profit"),
    "Science": ("brain", "universe", "evolution", "climate", "gene", "physics", "atom", "discovery"),
}
FILLER = ("story", "book", "tale", "guide", "life", "world", "chronicle", "notes", "days")
FIRST_NAMES = ("Ada", "Ben", "Clara", "Dev", "Elena", "Farid", "Grace", "Hugo", "Iris", "Jonas",
               "Kemi", "Leo", "Maya", "Nils", "Olga", "Priya", "Quinn", "Rosa", "Sami", "Tara")
LAST_NAMES = ("Marsh", "Okafor", "Lindqvist", "Moreau", "Tanaka", "Hale", "Novak", "Ibarra",
              "Fischer", "Reyes", "Sato", "Quill", "Brennan", "Kowalski", "Adeyemi", "Vance")
REVIEW_TITLES = ("Not for me", "Disappointing", "It was okay", "Really good", "Loved it")


@dataclass(frozen=True)
class SyntheticOptions:
    """Generator knobs; `from_dict` rejects unknown keys so typos do not pass silently."""

    seed: int = 0
    n_users: int = 2000
    n_items: int = 600
    reviews_per_user: float = 60.0  # mean; per-user counts are log-normally spread
    n_topics: int = len(TOPICS)
    topic_concentration: float = 0.1  # Dirichlet alpha of item topic mixes (small = one topic)
    interest_concentration: float = 0.3  # Dirichlet alpha of which topics a user buys
    taste_choice: float = 0.3  # how much users buy the topics they like
    popularity_skew: float = 0.6  # Zipf exponent of item popularity inside a topic
    base: float = 3.4
    bias_sd: float = 0.5
    quality_sd: float = 0.3
    taste_sd: float = 1.0
    taste_strength: float = 1.2
    noise_sd: float = 0.5
    years: float = 3.0
    start_ms: int = START_MS

    @classmethod
    def from_dict(cls, options: dict[str, Any] | None) -> SyntheticOptions:
        options = dict(options or {})
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ConfigError(
                f"unknown synthetic option(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}"
            )
        values: dict[str, Any] = {}
        for key, raw in options.items():
            caster = int if key in ("seed", "n_users", "n_items", "n_topics", "start_ms") else float
            try:
                values[key] = caster(raw)
            except (TypeError, ValueError):
                raise ConfigError(f"synthetic option {key}={raw!r} is not a number") from None
        opts = cls(**values)
        opts.validate()
        return opts

    def validate(self) -> None:
        if self.n_users < 1 or self.n_items < 2:
            raise ConfigError("synthetic data needs n_users >= 1 and n_items >= 2")
        if not 1 <= self.n_topics <= len(TOPICS):
            raise ConfigError(f"n_topics must be between 1 and {len(TOPICS)}")
        if self.reviews_per_user <= 0 or self.years <= 0:
            raise ConfigError("reviews_per_user and years must be positive")
        for key in ("topic_concentration", "interest_concentration"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"{key} must be positive")
        for key in ("bias_sd", "quality_sd", "taste_sd", "noise_sd", "popularity_skew"):
            if getattr(self, key) < 0:
                raise ConfigError(f"{key} must not be negative")


@dataclass
class SyntheticWorld:
    """Users, items and the true parameters behind every rating (index = position in ids)."""

    options: SyntheticOptions
    user_ids: list[str]
    item_ids: list[str]
    user_bias: np.ndarray  # (n_users,)
    item_quality: np.ndarray  # (n_items,)
    tastes: np.ndarray  # (n_users, n_topics): how much each user likes each topic
    topics: np.ndarray  # (n_items, n_topics): each item's topic mix, rows sum to 1
    interests: np.ndarray  # (n_users, n_topics): which topics each user buys, rows sum to 1
    popularity: np.ndarray  # (n_items,): relative purchase weight inside the item's topic
    release_ms: np.ndarray  # (n_items,)
    titles: list[str]
    authors: list[str]
    categories: list[str]
    descriptions: list[str]

    def __post_init__(self) -> None:
        self._user_index = {u: i for i, u in enumerate(self.user_ids)}
        self._item_index = {it: i for i, it in enumerate(self.item_ids)}

    @property
    def topic_names(self) -> list[str]:
        return list(TOPICS)[: self.options.n_topics]

    @property
    def end_ms(self) -> int:
        return self.options.start_ms + int(self.options.years * 365 * DAY_MS)

    def user_index(self, user: str | int | np.ndarray) -> Any:
        return self._user_index[user] if isinstance(user, str) else user

    def item_index(self, item: str | int | np.ndarray) -> Any:
        return self._item_index[item] if isinstance(item, str) else item

    def true_affinity(self, user: str | int | np.ndarray, item: str | int | np.ndarray) -> Any:
        """The personal-taste term of the rating: taste_strength * <taste_u, topics_i>."""
        u, i = self.user_index(user), self.item_index(item)
        dot = np.sum(self.tastes[u] * self.topics[i], axis=-1)
        return self.options.taste_strength * dot

    def latent_rating(self, user: str | int | np.ndarray, item: str | int | np.ndarray) -> Any:
        """Expected rating before noise, rounding and clipping."""
        u, i = self.user_index(user), self.item_index(item)
        return (
            self.options.base + self.user_bias[u] + self.item_quality[i]
            + self.true_affinity(u, i)
        )


def make_world(options: SyntheticOptions) -> SyntheticWorld:
    """Draw users and items (not reviews) from `options.seed`."""
    o = options
    rng = np.random.default_rng([o.seed, 0])
    k = o.n_topics
    topic_weight = rng.dirichlet(np.full(k, 4.0))  # some topics have more items than others
    topics = rng.dirichlet(np.full(k, o.topic_concentration), size=o.n_items)
    # make each item's dominant topic follow topic_weight: swap the largest entry into place
    dominant = rng.choice(k, size=o.n_items, p=topic_weight)
    cur = topics.argmax(axis=1)
    rows = np.arange(o.n_items)
    top_val, dom_val = topics[rows, cur].copy(), topics[rows, dominant].copy()
    topics[rows, cur], topics[rows, dominant] = dom_val, top_val
    tastes = rng.normal(0.0, o.taste_sd, size=(o.n_users, k))
    raw_interest = rng.dirichlet(np.full(k, o.interest_concentration), size=o.n_users)
    interests = raw_interest * np.exp(o.taste_choice * tastes)
    interests /= interests.sum(axis=1, keepdims=True)
    user_bias = rng.normal(0.0, o.bias_sd, size=o.n_users)
    item_quality = rng.normal(0.0, o.quality_sd, size=o.n_items)
    # Zipf popularity over a random global rank (so also Zipf-like inside each topic)
    popularity = (1.0 + rng.permutation(o.n_items)) ** (-o.popularity_skew)
    span = o.years * 365 * DAY_MS
    release_ms = o.start_ms + (rng.uniform(0.0, 0.8, size=o.n_items) * span).astype(np.int64)
    titles, authors, descs = _item_texts(rng, topics, dominant, k)
    names = list(TOPICS)[:k]
    uw, iw = len(str(o.n_users)), len(str(o.n_items))
    return SyntheticWorld(
        options=o,
        user_ids=[f"U{n:0{uw}d}" for n in range(o.n_users)],
        item_ids=[f"I{n:0{iw}d}" for n in range(o.n_items)],
        user_bias=user_bias,
        item_quality=item_quality,
        tastes=tastes,
        topics=topics,
        interests=interests,
        popularity=popularity,
        release_ms=release_ms,
        titles=titles,
        authors=authors,
        categories=[names[t] for t in dominant],
        descriptions=descs,
    )


def _item_texts(
    rng: np.random.Generator, topics: np.ndarray, dominant: np.ndarray, k: int
) -> tuple[list[str], list[str], list[str]]:
    """Titles and descriptions from words of each item's topics; authors write in one topic."""
    n = len(topics)
    vocab = [TOPICS[name] for name in list(TOPICS)[:k]]
    # 3 title words + 3 description words, each from a topic drawn from the item's mix
    cum = np.cumsum(topics, axis=1)
    u = rng.random((n, 6))
    word_topic = np.minimum((u[:, :, None] > cum[:, None, :]).sum(axis=2), k - 1)
    word_pick = rng.permuted(np.tile(np.arange(8), (n, 1)), axis=1)[:, :6]  # no repeats
    filler = rng.integers(0, len(FILLER), size=n)
    serial = rng.integers(1, 1000, size=n)
    authors_per_topic = max(3, n // (12 * k))
    author_pick = rng.integers(0, authors_per_topic, size=n)
    titles, authors, descs = [], [], []
    for i in range(n):
        words = [vocab[t][w] for t, w in zip(word_topic[i], word_pick[i], strict=True)]
        titles.append(f"{' '.join(w.title() for w in words[:3])} {FILLER[filler[i]].title()} {serial[i]}")
        a = int(dominant[i]) * authors_per_topic + int(author_pick[i])
        first = FIRST_NAMES[a % len(FIRST_NAMES)]
        last = LAST_NAMES[(a // len(FIRST_NAMES) + a) % len(LAST_NAMES)]
        authors.append(f"{first} {last}" + (f" {a // 320 + 1}" if a >= 320 else ""))
        descs.append(f"A {list(TOPICS)[dominant[i]].lower()} title about "
                     f"{words[3]}, {words[4]} and {words[5]}.")
    return titles, authors, descs


def _topic_cdf(world: SyntheticWorld) -> tuple[np.ndarray, np.ndarray]:
    """Items sorted by dominant topic, and a CDF where topic t's items span (t, t+1]."""
    dominant = world.topics.argmax(axis=1)
    order = np.lexsort((np.arange(len(dominant)), dominant))
    pops = world.popularity[order]
    dom_sorted = dominant[order]
    cdf = np.empty(len(order))
    for t in range(world.options.n_topics):
        sel = dom_sorted == t
        if sel.any():
            c = np.cumsum(pops[sel])
            cdf[sel] = t + c / c[-1]
    return order, cdf


def iter_review_blocks(world: SyntheticWorld) -> Iterator[dict[str, np.ndarray]]:
    """Reviews block by block of users: arrays user (index), item (index), rating, timestamp."""
    o = world.options
    order, cdf = _topic_cdf(world)
    # topics without items are never chosen
    has_items = np.bincount(world.topics.argmax(axis=1), minlength=o.n_topics) > 0
    for b, start in enumerate(range(0, o.n_users, USER_BLOCK)):
        users = np.arange(start, min(start + USER_BLOCK, o.n_users))
        rng = np.random.default_rng([o.seed, 1, b])
        counts = np.maximum(1, np.rint(o.reviews_per_user * rng.lognormal(-0.08, 0.4, len(users))))
        counts = np.minimum(counts, o.n_items).astype(np.int64)
        # draw extra picks, drop repeated (user, item) pairs, keep each user's first `count`
        user = np.repeat(users, counts + counts // 2 + 2)
        interest = world.interests[user] * has_items
        icum = np.cumsum(interest / interest.sum(axis=1, keepdims=True), axis=1)
        topic = np.minimum((rng.random(len(user))[:, None] > icum).sum(axis=1), o.n_topics - 1)
        pos = np.searchsorted(cdf, topic + rng.random(len(user)), side="left")
        item = order[np.minimum(pos, len(order) - 1)]
        _, first = np.unique(user * o.n_items + item, return_index=True)
        first.sort()
        user, item = user[first], item[first]
        group_start = np.searchsorted(user, users)  # user stays sorted: draws are grouped
        rank = np.arange(len(user)) - group_start[user - start]
        keep = rank < counts[user - start]
        user, item = user[keep], item[keep]
        rel = world.release_ms[item]
        ts = rel + ((world.end_ms - rel) * rng.random(len(item)) ** 2).astype(np.int64)
        latent = world.latent_rating(user, item) + rng.normal(0.0, o.noise_sd, len(item))
        rating = np.clip(np.rint(latent), 1, 5)
        yield {"user": user, "item": item, "rating": rating, "timestamp": ts}


def reviews_table(world: SyntheticWorld) -> pa.Table:
    """All reviews as a pyarrow table with the raw_reviews columns."""
    blocks = list(iter_review_blocks(world))
    cat = {k: np.concatenate([b[k] for b in blocks]) for k in ("user", "item", "rating", "timestamp")}
    uids, iids = np.array(world.user_ids, dtype=object), np.array(world.item_ids, dtype=object)
    return pa.table({
        "user_id": pa.array(uids[cat["user"]], pa.string()),
        "item_id": pa.array(iids[cat["item"]], pa.string()),
        "rating": pa.array(cat["rating"].astype(np.float64), pa.float64()),
        "timestamp": pa.array(cat["timestamp"].astype(np.int64), pa.int64()),
    })


def items_table(world: SyntheticWorld) -> pa.Table:
    """Item metadata as a pyarrow table with the raw_items columns."""
    return pa.table({
        "item_id": pa.array(world.item_ids, pa.string()),
        "title": pa.array(world.titles, pa.string()),
        "author": pa.array(world.authors, pa.string()),
        "category": pa.array(world.categories, pa.string()),
        "description": pa.array(world.descriptions, pa.string()),
    })


def generate(
    options: dict[str, Any] | SyntheticOptions | None = None,
) -> tuple[SyntheticWorld, pa.Table, pa.Table]:
    """(world, reviews table, items table) for the given options."""
    opts = options if isinstance(options, SyntheticOptions) else SyntheticOptions.from_dict(options)
    world = make_world(opts)
    return world, reviews_table(world), items_table(world)


def load_synthetic(con: duckdb.DuckDBPyConnection, options: dict[str, Any] | None = None) -> LoadReport:
    """Create `raw_reviews` and `raw_items` in the DuckDB connection; return a LoadReport."""
    opts = SyntheticOptions.from_dict(options)
    _, reviews, items = generate(opts)
    con.register("_synthetic_reviews", reviews)
    con.register("_synthetic_items", items)
    try:
        con.execute("CREATE OR REPLACE TABLE raw_reviews AS SELECT * FROM _synthetic_reviews")
        con.execute("CREATE OR REPLACE TABLE raw_items AS SELECT * FROM _synthetic_items")
    finally:
        con.unregister("_synthetic_reviews")
        con.unregister("_synthetic_items")
    return LoadReport.for_synthetic(asdict(opts), reviews.num_rows, items.num_rows)


def write_synthetic(out_dir: Path | str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write `reviews.jsonl` and `meta.jsonl` in the Amazon Reviews 2023 layout, streamed.

    Returns counts and paths. The reviews are the same as `load_synthetic` makes for the
    same options (item ids become `parent_asin`/`asin`).
    """
    opts = SyntheticOptions.from_dict(options)
    world = make_world(opts)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta_path, reviews_path = out / "meta.jsonl", out / "reviews.jsonl"
    with open(meta_path, "w", encoding="utf-8", newline="\n") as fh:
        for i, item_id in enumerate(world.item_ids):
            fh.write(json.dumps({
                "parent_asin": item_id,
                "title": world.titles[i],
                "main_category": world.categories[i],
                "store": world.authors[i],
                "author": {"name": world.authors[i]},
                "description": [world.descriptions[i]],
                "categories": ["Books", world.categories[i]],
                "price": round(5.0 + 20.0 * float(world.popularity[i]) ** 0.1, 2),
            }) + "\n")
    n_reviews = 0
    with open(reviews_path, "w", encoding="utf-8", newline="\n") as fh:
        for block in iter_review_blocks(world):
            lines = []
            for u, i, r, t in zip(block["user"].tolist(), block["item"].tolist(),
                                  block["rating"].tolist(), block["timestamp"].tolist(), strict=True):
                item_id = world.item_ids[i]
                lines.append(json.dumps({
                    "rating": r,
                    "title": REVIEW_TITLES[int(r) - 1],
                    "text": f"{REVIEW_TITLES[int(r) - 1]}: {world.titles[i]}.",
                    "asin": item_id,
                    "parent_asin": item_id,
                    "user_id": world.user_ids[u],
                    "timestamp": t,
                    "verified_purchase": True,
                    "helpful_vote": 0,
                }) + "\n")
            fh.writelines(lines)
            n_reviews += len(lines)
    return {"reviews": str(reviews_path), "meta": str(meta_path),
            "n_reviews": n_reviews, "n_items": len(world.item_ids), "options": asdict(opts)}
