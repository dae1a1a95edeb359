"""The synthetic world: determinism, the raw-table contract, the rating model, the JSONL writer."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pytest

from perrecbench.data.synthetic import (
    TOPICS,
    USER_BLOCK,
    SyntheticOptions,
    generate,
    load_synthetic,
    write_synthetic,
)
from perrecbench.errors import ConfigError

SMALL = {"n_users": 300, "n_items": 120, "reviews_per_user": 25}


def _rows(table, columns: tuple[str, ...]) -> list[tuple]:
    """A pyarrow table's rows as sorted tuples of the given columns."""
    return sorted(zip(*(table.column(c).to_pylist() for c in columns), strict=True))


@pytest.fixture(scope="module")
def default_world():
    return generate({})


def test_same_seed_same_data_other_seed_other_data():
    _, r1, i1 = generate({**SMALL, "seed": 7})
    _, r2, i2 = generate({**SMALL, "seed": 7})
    _, r3, _ = generate({**SMALL, "seed": 8})
    assert r1.equals(r2) and i1.equals(i2)
    assert not r1.equals(r3)


def test_load_synthetic_creates_the_raw_tables():
    con = duckdb.connect()
    report = load_synthetic(con, {**SMALL, "seed": 1})
    cols = {t: con.execute(f"DESCRIBE {t}").fetchall() for t in ("raw_reviews", "raw_items")}
    assert [(c[0], c[1]) for c in cols["raw_reviews"]] == [
        ("user_id", "VARCHAR"), ("item_id", "VARCHAR"), ("rating", "DOUBLE"), ("timestamp", "BIGINT")]
    assert [(c[0], c[1]) for c in cols["raw_items"]] == [
        ("item_id", "VARCHAR"), ("title", "VARCHAR"), ("author", "VARCHAR"),
        ("category", "VARCHAR"), ("description", "VARCHAR")]
    n_reviews = con.execute("SELECT count(*) FROM raw_reviews").fetchone()[0]
    assert report.source == "synthetic"
    assert report.rows_read == report.rows_kept == n_reviews
    assert report.items_kept == SMALL["n_items"] == con.execute("SELECT count(*) FROM raw_items").fetchone()[0]
    assert report.options["seed"] == 1
    # no temporary views are left behind
    names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert names == {"raw_reviews", "raw_items"}


def test_reviews_are_clean_and_spread_over_three_years(default_world):
    world, reviews, _ = default_world
    con = duckdb.connect()
    con.register("r", reviews)
    n, pairs, lo, hi, non_int, t0, t1 = con.execute(
        """SELECT count(*), count(DISTINCT (user_id, item_id)), min(rating), max(rating),
                  count(*) FILTER (WHERE rating <> round(rating)), min("timestamp"), max("timestamp")
           FROM r""").fetchone()
    assert n == pairs  # one review per (user, item)
    assert (lo, hi, non_int) == (1.0, 5.0, 0)
    assert world.options.start_ms <= t0 and t1 <= world.end_ms
    assert (t1 - t0) / (365 * 86_400_000) > 2.5
    per_user = con.execute("SELECT avg(c), min(c) FROM (SELECT count(*) c FROM r GROUP BY user_id)").fetchone()
    assert abs(per_user[0] - world.options.reviews_per_user) < 5
    # popularity skew: the busiest tenth of the items gets far more raters than the median item
    counts = np.sort(con.execute("SELECT count(*) FROM r GROUP BY item_id").fetchnumpy()["count_star()"])
    assert counts[int(0.9 * len(counts))] > 2 * np.median(counts)
    dist = np.bincount(reviews.column("rating").to_numpy().astype(int), minlength=6)[1:] / n
    assert dist.min() > 0.02  # every star is used


def test_ratings_follow_the_stated_model(default_world):
    world, reviews, _ = default_world
    users = np.array([world.user_index(u) for u in reviews.column("user_id").to_pylist()])
    items = np.array([world.item_index(i) for i in reviews.column("item_id").to_pylist()])
    rating = reviews.column("rating").to_numpy()
    latent = world.latent_rating(users, items)
    assert np.corrcoef(latent, rating)[0, 1] > 0.8
    o = world.options
    manual = o.base + world.user_bias[users] + world.item_quality[items] + o.taste_strength * np.einsum(
        "ij,ij->i", world.tastes[users], world.topics[items])
    assert np.allclose(manual, latent)
    inside = (latent > 1.5) & (latent < 4.5)  # away from the clip: residual is noise + rounding
    resid = rating[inside] - latent[inside]
    assert abs(resid.mean()) < 0.05
    assert resid.std() == pytest.approx(np.sqrt(o.noise_sd**2 + 1 / 12), abs=0.08)


def test_item_texts_carry_their_topics(default_world):
    world, _, items = default_world
    rows = items.to_pylist()
    hits = 0
    for i, row in enumerate(rows):
        dominant = world.topic_names[int(world.topics[i].argmax())]
        assert row["category"] == dominant
        words = set(row["title"].lower().split()) | set(row["description"].lower().replace(",", " ").split())
        hits += bool(words & set(TOPICS[dominant]))
    assert hits / len(rows) > 0.95
    titles = [r["title"] for r in rows]
    assert len(set(titles)) > 0.95 * len(titles)
    # an author writes in one topic
    by_author: dict[str, set[str]] = {}
    for r in rows:
        by_author.setdefault(r["author"], set()).add(r["category"])
    assert all(len(cats) == 1 for cats in by_author.values())


def test_true_affinity_accepts_ids_and_indices(default_world):
    world, _, _ = default_world
    u, i = world.user_ids[3], world.item_ids[5]
    expected = world.options.taste_strength * float(world.tastes[3] @ world.topics[5])
    assert world.true_affinity(u, i) == pytest.approx(expected)
    assert world.true_affinity(3, 5) == pytest.approx(expected)
    assert world.true_affinity(np.array([3, 3]), np.array([5, 5])) == pytest.approx([expected] * 2)


def test_taste_not_habit_drives_relative_ratings(default_world):
    """Within an item, (rating - user's mean) follows the taste term, not bias or quality."""
    world, reviews, _ = default_world
    users = np.array([world.user_index(u) for u in reviews.column("user_id").to_pylist()])
    items = np.array([world.item_index(i) for i in reviews.column("item_id").to_pylist()])
    rating = reviews.column("rating").to_numpy()
    user_mean = np.bincount(users, rating) / np.bincount(users)
    rel = rating - user_mean[users]
    taste = world.true_affinity(users, items)
    # centre within items, so item quality is removed as the benchmark's groups do
    def within(x):
        return x - (np.bincount(items, x) / np.bincount(items))[items]
    assert np.corrcoef(within(taste), within(rel))[0, 1] > 0.4
    assert abs(np.corrcoef(within(world.user_bias[users]), within(rel))[0, 1]) < 0.1


def test_options_are_validated():
    with pytest.raises(ConfigError, match="n_user"):
        SyntheticOptions.from_dict({"n_user": 5})
    with pytest.raises(ConfigError, match="not a number"):
        SyntheticOptions.from_dict({"seed": "x"})
    with pytest.raises(ConfigError):
        SyntheticOptions.from_dict({"n_topics": 99})
    assert SyntheticOptions.from_dict({"seed": "3"}).seed == 3


def test_write_synthetic_matches_load_synthetic(tmp_path):
    opts = {"n_users": USER_BLOCK + 200, "n_items": 150, "reviews_per_user": 8, "seed": 4}
    info = write_synthetic(tmp_path, opts)
    lines = (tmp_path / "reviews.jsonl").read_text(encoding="utf-8").splitlines()
    meta = [json.loads(x) for x in (tmp_path / "meta.jsonl").read_text(encoding="utf-8").splitlines()]
    assert info["n_reviews"] == len(lines) and info["n_items"] == len(meta) == 150
    first = json.loads(lines[0])
    assert {"rating", "title", "text", "asin", "parent_asin", "user_id", "timestamp"} <= set(first)
    assert {"parent_asin", "title", "main_category", "store", "price"} <= set(meta[0])
    written = sorted((d["user_id"], d["parent_asin"], d["rating"], d["timestamp"])
                     for d in map(json.loads, lines))
    _, reviews, items = generate(opts)
    assert written == _rows(reviews, ("user_id", "item_id", "rating", "timestamp"))  # both paths draw the same reviews, block by block
    assert [m["title"] for m in meta] == items.column("title").to_pylist()


def test_written_files_read_back_through_the_amazon_source(tmp_path):
    amazon = pytest.importorskip("perrecbench.data.amazon")
    opts = {**SMALL, "seed": 2}
    write_synthetic(tmp_path, opts)
    con = duckdb.connect()
    report = amazon.load_amazon(con, [tmp_path])
    assert report.rows_skipped == 0
    got = con.execute("SELECT user_id, item_id, rating, timestamp FROM raw_reviews ORDER BY ALL").fetchall()
    _, reviews, items = generate(opts)
    assert got == _rows(reviews, ("user_id", "item_id", "rating", "timestamp"))
    item_rows = con.execute("SELECT item_id, title, author, category FROM raw_items ORDER BY item_id").fetchall()
    assert item_rows == _rows(items, ("item_id", "title", "author", "category"))
