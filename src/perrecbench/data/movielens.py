"""MovieLens (GroupLens) ratings -> raw_reviews / raw_items.

Why: dense, real, small data for end-to-end runs. Three layouts are read:

* ml-latest(-small), ml-20m/25m/32m: `ratings.csv` (userId,movieId,rating,timestamp)
  and `movies.csv` (movieId,title,genres);
* ml-100k: `u.data` (tab separated user, item, rating, time) and `u.item` (pipe
  separated; title in field 2, 19 genre flags from field 6, named by `u.genre` when
  present);
* ml-1m/10m: `ratings.dat` and `movies.dat` (`::` separated).

GroupLens ships the item files in Latin-1; copies redistributed by others (RecBole...)
are UTF-8. Item files are read as UTF-8 when they are valid UTF-8, else as Latin-1.

Times are seconds (converted to ms); ratings 0.5..5 (half stars). category = the
movie's genres joined by "|".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from ..errors import InputDataError
from .duck import ident, lit
from .encoding import UTF8_OR_LATIN1
from .files import Checksums, require_files
from .report import LoadReport
from .stage import FieldNames, LoadOptions, empty_items, time_scale_note
from .table import Layout, Table, open_table, review_select, stage_items, stage_reviews

RATING_RANGE = (0.5, 5.0)
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
NO_GENRES = "(no genres listed)"


@dataclass(frozen=True)
class Flavor:
    """One MovieLens file layout."""

    ratings: str
    items: str
    ratings_layout: Layout
    items_layout: Layout | None  # None: ml-100k, whose field names come from u.genre
    user: str
    item: str
    rating: str
    time: str


LATEST = Flavor(
    "ratings.csv", "movies.csv", Layout(delimiter=","), Layout(delimiter=","),
    "userId", "movieId", "rating", "timestamp",
)
ML100K = Flavor(
    "u.data", "u.item",
    Layout(delimiter="\t", header=False, names=("user_id", "item_id", "rating", "timestamp")),
    None,
    "user_id", "item_id", "rating", "timestamp",
)
ML1M = Flavor(
    "ratings.dat", "movies.dat",
    Layout(delimiter="::", header=False, names=("UserID", "MovieID", "Rating", "Timestamp")),
    Layout(delimiter="::", header=False, names=("MovieID", "Title", "Genres"),
           encoding=UTF8_OR_LATIN1, quote=""),
    "UserID", "MovieID", "Rating", "Timestamp",
)
FLAVORS = (LATEST, ML100K, ML1M)


def find_files(inputs: list[Path], meta: list[Path] | None) -> tuple[Flavor, Path, Path | None]:
    """(layout, ratings file, item file or None) from a folder or a ratings file."""
    if len(inputs) != 1:
        raise InputDataError(f"movielens takes one --input (a folder or its ratings file), got {len(inputs)}")
    given = Path(inputs[0])
    if given.is_dir():
        flavor = next((f for f in FLAVORS if (given / f.ratings).is_file()), None)
        if flavor is None:
            wanted = ", ".join(f.ratings for f in FLAVORS)
            raise InputDataError(f"{given}: no MovieLens ratings file here (looked for {wanted})")
        ratings = given / flavor.ratings
    else:
        ratings = require_files([given], "ratings")[0]
        flavor = next((f for f in FLAVORS if ratings.name == f.ratings), LATEST)
    if meta:
        if len(meta) != 1:
            raise InputDataError(f"movielens takes at most one item file, got {len(meta)}")
        return flavor, ratings, require_files(meta, "item")[0]
    items = ratings.parent / flavor.items
    return flavor, ratings, items if items.is_file() else None


def genre_names(items: Path) -> tuple[str, ...]:
    """ml-100k genre names in flag order, from `u.genre` (`name|index` lines) if present."""
    path = items.parent / "u.genre"
    if not path.is_file():
        return ML100K_GENRES
    pairs = []
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    for line in text.splitlines():
        name, _, idx = line.strip().rpartition("|")
        if name and idx.strip().isdigit():
            pairs.append((int(idx), name))
    if not pairs:
        raise InputDataError(f"{path}: no 'name|index' lines")
    return tuple(name for _, name in sorted(pairs))


def _item_select(flavor: Flavor, t: Table, genres: tuple[str, ...]) -> dict[str, str]:
    if flavor is ML100K:
        flags = ", ".join(f"CASE WHEN {ident(f'g{i}')} = '1' THEN {lit(g)} END" for i, g in enumerate(genres))
        return {"_i": t.col("movie_id", "item"), "_title": t.col("title", "title"),
                "_author": "NULL::VARCHAR", "_category": f"nullif(concat_ws('|', {flags}), '')",
                "_description": "NULL::VARCHAR"}
    title, genre = ("title", "genres") if flavor is LATEST else ("Title", "Genres")
    return {"_i": t.col(flavor.item if flavor is LATEST else "MovieID", "item"),
            "_title": t.col(title, "title"), "_author": "NULL::VARCHAR",
            "_category": f"nullif({t.col(genre, 'genres')}, {lit(NO_GENRES)})",
            "_description": "NULL::VARCHAR"}


def load_movielens(
    con: duckdb.DuckDBPyConnection,
    inputs: list[Path],
    meta: list[Path] | None = None,
    options: dict[str, Any] | None = None,
) -> LoadReport:
    """Create raw_reviews and raw_items from a MovieLens folder or ratings file."""
    load, _ = LoadOptions.split(options, {})
    flavor, ratings, items = find_files(inputs, meta)
    report = LoadReport(source="movielens", options={"layout": flavor.ratings})
    files = [ratings] + ([items] if items else [])
    names = FieldNames(flavor.user, flavor.item, flavor.rating, flavor.time)
    with Checksums(files, load.checksum) as sums:
        t = open_table(con, ratings, flavor.ratings_layout)
        select = review_select(t, flavor.user, flavor.item, flavor.rating, flavor.time)
        stage_reviews(con, [t], [select], ["s"], RATING_RANGE, names, report, sums, load.max_bad_lines)
        time_scale_note(con, report, "s")
        if items is None:
            empty_items(con)
            report.notes.append(f"no {flavor.items} beside {ratings}: items will have no titles")
            return report
        genres = genre_names(items) if flavor is ML100K else ()
        layout = flavor.items_layout or Layout(
            delimiter="|", header=False, encoding=UTF8_OR_LATIN1, quote="",
            names=("movie_id", "title", "release_date", "video_release_date", "imdb_url",
                   *(f"g{i}" for i in range(len(genres)))))
        it = open_table(con, items, layout)
        stage_items(con, [it], [_item_select(flavor, it, genres)], "movie id", report, sums,
                    load.max_bad_lines)
    return report
