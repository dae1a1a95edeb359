"""MovieLens reader: ml-latest-small (real), ml-100k and ml-1m layouts, bad rows."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest
from conftest import shared_path

from perrecbench.data.movielens import ML100K_GENRES, load_movielens
from perrecbench.data.sources import load_source
from perrecbench.errors import InputDataError


@pytest.fixture
def small() -> Path:
    return shared_path("data", "movielens-latest-small")


def test_ml_latest_small(small):
    with open(small / "ratings.csv", newline="") as fh:
        ratings = list(csv.DictReader(fh))
    with open(small / "movies.csv", newline="", encoding="utf-8") as fh:
        movies = list(csv.DictReader(fh))
    con = duckdb.connect()
    report = load_source(con, "movielens", [small], None, {})
    assert (report.rows_read, report.rows_kept) == (100_836, 100_836) == (len(ratings), len(ratings))
    n, users, lo_ts, hi_ts, lo_r = con.execute(
        "SELECT count(*), count(DISTINCT user_id), min(timestamp), max(timestamp), min(rating) FROM raw_reviews"
    ).fetchone()
    assert (n, users) == (100_836, 610)
    assert lo_ts == 1000 * min(int(r["timestamp"]) for r in ratings)  # seconds -> ms
    assert hi_ts == 1000 * max(int(r["timestamp"]) for r in ratings)
    assert lo_r == 0.5  # half stars are kept
    assert report.items_kept == len(movies) == 9742
    items = {r[0]: r[1:] for r in con.execute("SELECT item_id, title, category FROM raw_items").fetchall()}
    for m in movies[:50] + movies[-50:]:
        genres = None if m["genres"] == "(no genres listed)" else m["genres"]
        assert items[m["movieId"]] == (m["title"], genres)
    assert any("," in t for t, _ in items.values())  # quoted titles with commas survive
    assert report.counts["reviewed_items_without_meta"] == 0
    assert [Path(f.path).name for f in report.files] == ["ratings.csv", "movies.csv"]


def test_ratings_file_given_directly_finds_movies_beside_it(small):
    con = duckdb.connect()
    report = load_movielens(con, [small / "ratings.csv"], options={"checksum": False})
    assert report.rows_kept == 100_836 and report.items_kept == 9742


def _ml100k(folder: Path, data: str, genre_file: bool = True, encoding: str = "latin-1") -> Path:
    folder.mkdir()
    (folder / "u.data").write_text(data)
    flags = ["0"] * 19
    flags[5], flags[8] = "1", "1"  # Comedy, Drama
    rows = [
        "1|Café Society (1995)|01-Jan-1995||http://x|" + "|".join(flags),
        "2|Señor \"Quote\" (1996)|01-Jan-1996||http://y|" + "|".join(["0"] * 18 + ["1"]),
        "3|Nothing (1997)|||http://z|" + "|".join(["0"] * 19),
    ]
    (folder / "u.item").write_bytes(("\n".join(rows) + "\n").encode(encoding))
    if genre_file:
        names = list(ML100K_GENRES)
        names[5] = "Funny"
        (folder / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(names)) + "\n")
    return folder


def test_ml100k_layout_with_latin1_titles_and_genre_flags(tmp_path):
    folder = _ml100k(tmp_path / "ml-100k", "196\t1\t3\t881250949\n186\t2\t4.5\t891717742\n22\t3\t1\t878887116\n")
    con = duckdb.connect()
    report = load_movielens(con, [folder])
    assert report.options["layout"] == "u.data"
    assert con.execute("SELECT * FROM raw_reviews ORDER BY user_id").fetchall() == [
        ("186", "2", 4.5, 891717742000), ("196", "1", 3.0, 881250949000), ("22", "3", 1.0, 878887116000)]
    assert con.execute("SELECT item_id, title, category FROM raw_items ORDER BY item_id").fetchall() == [
        ("1", "Café Society (1995)", "Funny|Drama"),  # names from u.genre
        ("2", 'Señor "Quote" (1996)', "Western"),
        ("3", "Nothing (1997)", None),
    ]


def test_ml100k_item_file_in_utf8_as_redistributed_copies_have_it(tmp_path):
    """RecBole and others ship ml-100k with a UTF-8 `u.item`; bytes such as the 0x80 of an
    en dash's UTF-8 form stopped the Latin-1 reader ("File is not latin-1 encoded")."""
    folder = _ml100k(tmp_path / "ml-100k", "196\t1\t3\t881250949\n", encoding="utf-8")
    item = folder / "u.item"
    item.write_bytes(item.read_bytes() + "4|Amélie \u2013 the fabulous (2001)|||http://w|".encode()
                     + "|".join(["0"] * 19).encode() + b"\n")
    con = duckdb.connect()
    report = load_movielens(con, [folder])
    titles = dict(con.execute("SELECT item_id, title FROM raw_items").fetchall())
    assert titles["1"] == "Café Society (1995)" and titles["4"] == "Amélie \u2013 the fabulous (2001)"
    assert report.items_kept == 4


def test_ml100k_latin1_item_file_takes_every_byte(tmp_path):
    """Latin-1 maps every byte to a character, the C1 controls 0x80-0x9F included (cp1252
    files put dashes and quotes there): none may stop the reader."""
    folder = _ml100k(tmp_path / "ml-100k", "196\t1\t3\t881250949\n")
    item = folder / "u.item"
    odd = bytes(b for b in range(0x80, 0x100) if b != ord("|"))
    item.write_bytes(item.read_bytes() + b"5|Odd " + odd + b" (1999)|||http://v|" + b"|".join([b"0"] * 19) + b"\n")
    con = duckdb.connect()
    load_movielens(con, [folder])
    titles = dict(con.execute("SELECT item_id, title FROM raw_items").fetchall())
    assert titles["5"] == "Odd " + odd.decode("latin-1") + " (1999)"
    assert titles["1"] == "Café Society (1995)"  # the Latin-1 é read right, not as UTF-8


def test_ml100k_without_u_genre_uses_the_standard_names(tmp_path):
    folder = _ml100k(tmp_path / "ml", "1\t1\t5\t881250949\n", genre_file=False)
    con = duckdb.connect()
    load_movielens(con, [folder])
    assert con.execute("SELECT category FROM raw_items WHERE item_id = '1'").fetchone()[0] == "Comedy|Drama"


def test_bad_ratings_are_skipped_with_their_line(tmp_path):
    data = "1\t1\t5\t881250949\n2\t1\tabc\t881250949\n3\t1\t7\t881250949\n4\t1\t0\t881250949\n5\t1\t\t881250949\n6\t1\t3\tnoon\n"
    folder = _ml100k(tmp_path / "ml", data)
    report = load_movielens(duckdb.connect(), [folder])
    path = folder / "u.data"
    assert report.rows_kept == 1
    assert report.skipped == {"bad_rating": 3, "missing_field": 1, "bad_timestamp": 1}
    assert report.bad_lines == [
        f"{path}:2: rating abc is not a number",
        f"{path}:3: rating 7 outside 0.5..5",
        f"{path}:4: rating 0 outside 0.5..5",
        f"{path}:5: missing rating",
        f"{path}:6: timestamp noon is not a valid time",
    ]


def test_csv_line_numbers_count_the_header(tmp_path):
    folder = tmp_path / "ml-latest"
    folder.mkdir()
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,six,964982703\n")
    (folder / "movies.csv").write_text('movieId,title,genres\n1,"Toy Story, The (1995)",Animation\n2,X,(no genres listed)\n')
    con = duckdb.connect()
    report = load_movielens(con, [folder])
    assert report.bad_lines == [f"{folder / 'ratings.csv'}:3: rating six is not a number"]
    assert con.execute("SELECT * FROM raw_items ORDER BY item_id").fetchall() == [
        ("1", "Toy Story, The (1995)", None, "Animation", None), ("2", "X", None, None, None)]


def test_ml1m_dat_layout(tmp_path):
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "ratings.dat").write_text("1::1193::5::978300760\n1::661::3::978302109\n")
    (folder / "movies.dat").write_bytes("1193::Amélie (2001)::Comedy|Romance\n661::Other (1990)::Drama\n".encode("latin-1"))
    con = duckdb.connect()
    report = load_movielens(con, [folder])
    assert report.rows_kept == 2
    assert con.execute("SELECT title, category FROM raw_items WHERE item_id = '1193'").fetchone() == (
        "Amélie (2001)", "Comedy|Romance")


def test_wrong_field_count_stops_with_the_line(tmp_path):
    folder = _ml100k(tmp_path / "ml", "1\t1\t5\t881250949\n2\t1\t5\n")
    with pytest.raises(InputDataError, match=r"u\.data:2: cannot read: expected 4 fields, found 3"):
        load_movielens(duckdb.connect(), [folder])


def test_missing_and_empty_inputs(tmp_path):
    with pytest.raises(InputDataError, match="no MovieLens ratings file"):
        load_movielens(duckdb.connect(), [tmp_path])
    with pytest.raises(InputDataError, match="ratings.csv: ratings file not found"):
        load_movielens(duckdb.connect(), [tmp_path / "ratings.csv"])
    (tmp_path / "ratings.csv").write_text("")
    with pytest.raises(InputDataError, match="ratings.csv: the file is empty"):
        load_movielens(duckdb.connect(), [tmp_path])
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n")
    with pytest.raises(InputDataError, match="ratings.csv: no usable review rows: the file is empty"):
        load_movielens(duckdb.connect(), [tmp_path])


def test_no_movies_file_leaves_items_empty_with_a_note(tmp_path):
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,964982703\n")
    con = duckdb.connect()
    report = load_movielens(con, [tmp_path])
    assert con.execute("SELECT count(*) FROM raw_items").fetchone()[0] == 0
    assert any("movies.csv" in n for n in report.notes)
