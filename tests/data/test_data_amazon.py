"""Amazon Reviews 2023 reader: real sample, compressed/Parquet/multi-file variants, bad input."""

from __future__ import annotations

import gzip
import hashlib
import html
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import shared_path

from perrecbench.data.amazon import load_amazon
from perrecbench.data.sources import load_source
from perrecbench.errors import ConfigError, InputDataError

TS = 1_600_000_000_000


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def _review(user: str, item: str, rating=4.0, ts=TS, **extra) -> dict:
    return {"user_id": user, "parent_asin": item, "asin": item, "rating": rating, "timestamp": ts, **extra}


def _reviews(con) -> list[tuple]:
    return con.execute("SELECT * FROM raw_reviews ORDER BY ALL").fetchall()


@pytest.fixture
def sample() -> Path:
    return shared_path("data", "amazon2023-sample")


def test_real_sample_counts_join_and_checksums(sample):
    reviews = [json.loads(line) for line in (sample / "reviews.jsonl").read_text().splitlines()]
    metas = [json.loads(line) for line in (sample / "meta.jsonl").read_text().splitlines()]
    con = duckdb.connect()
    report = load_source(con, "amazon2023", [sample / "reviews.jsonl"], [sample / "meta.jsonl"], {})

    assert (report.rows_read, report.rows_kept, report.rows_skipped) == (len(reviews), len(reviews), 0)
    assert (report.items_read, report.items_kept) == (len(metas), len(metas))
    assert con.execute("SELECT count(*) FROM raw_reviews").fetchone()[0] == len(reviews)
    assert con.execute("SELECT count(*) FROM raw_items").fetchone()[0] == len({m["parent_asin"] for m in metas})
    # the join on parent_asin: every review whose item has a metadata line finds its title
    meta_ids = {m["parent_asin"] for m in metas}
    joined = con.execute(
        "SELECT count(*) FROM raw_reviews r JOIN raw_items i USING (item_id) WHERE i.title IS NOT NULL"
    ).fetchone()[0]
    assert joined == sum(r["parent_asin"] in meta_ids for r in reviews)
    missing = len({r["parent_asin"] for r in reviews} - meta_ids)
    assert report.counts["reviewed_items_without_meta"] == missing
    # ratings and times exactly as in the file
    first = reviews[0]
    row = con.execute(
        "SELECT rating, timestamp FROM raw_reviews WHERE user_id = ? AND item_id = ?",
        [first["user_id"], first["parent_asin"]],
    ).fetchall()
    assert (first["rating"], first["timestamp"]) in row
    for f in report.files:
        assert f.sha256 == "sha256:" + hashlib.sha256(Path(f.path).read_bytes()).hexdigest()
        assert f.size_bytes == Path(f.path).stat().st_size
    # titles come out decoded and trimmed
    titles = dict(con.execute("SELECT item_id, title FROM raw_items").fetchall())
    for m in metas:
        assert titles[m["parent_asin"]] == (html.unescape(m["title"]).strip() or None)
    cats = dict(con.execute("SELECT item_id, category FROM raw_items").fetchall())
    assert cats[metas[0]["parent_asin"]] == metas[0]["main_category"]


def test_folder_input_finds_reviews_and_meta(sample):
    con = duckdb.connect()
    report = load_amazon(con, [sample], None, {"checksum": False})
    roles = sorted((Path(f.path).name, f.role) for f in report.files)
    assert roles == [("meta.jsonl", "items"), ("reviews.jsonl", "reviews")]
    assert all(f.sha256 is None for f in report.files)
    assert report.items_kept > 0


def test_gz_and_parquet_variants_give_the_same_tables(sample, tmp_path):
    con = duckdb.connect()
    load_amazon(con, [sample / "reviews.jsonl"], [sample / "meta.jsonl"])
    want_reviews = _reviews(con)
    want_items = con.execute("SELECT * FROM raw_items ORDER BY ALL").fetchall()

    gz = tmp_path / "reviews.jsonl.gz"
    gz.write_bytes(gzip.compress((sample / "reviews.jsonl").read_bytes()))
    meta_gz = tmp_path / "meta.jsonl.gz"
    meta_gz.write_bytes(gzip.compress((sample / "meta.jsonl").read_bytes()))
    load_amazon(con, [gz], [meta_gz])
    assert _reviews(con) == want_reviews
    assert con.execute("SELECT * FROM raw_items ORDER BY ALL").fetchall() == want_items

    rows = [json.loads(line) for line in (sample / "reviews.jsonl").read_text().splitlines()]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "reviews.parquet", row_group_size=500)
    metas = [json.loads(line) for line in (sample / "meta.jsonl").read_text().splitlines()]
    pq.write_table(pa.Table.from_pylist(metas), tmp_path / "meta.parquet")
    report = load_amazon(con, [tmp_path / "reviews.parquet"], [tmp_path / "meta.parquet"])
    assert _reviews(con) == want_reviews
    assert con.execute("SELECT * FROM raw_items ORDER BY ALL").fetchall() == want_items
    assert report.rows_kept == len(rows)


def test_several_category_files_at_once(sample, tmp_path):
    lines = (sample / "reviews.jsonl").read_text().splitlines(keepends=True)
    half = len(lines) // 2
    a, b = tmp_path / "Books.jsonl", tmp_path / "Electronics.jsonl.gz"
    a.write_text("".join(lines[:half]))
    b.write_bytes(gzip.compress("".join(lines[half:]).encode()))
    con = duckdb.connect()
    report = load_amazon(con, [a, b], [sample / "meta.jsonl"])
    assert [f.rows_read for f in report.files if f.role == "reviews"] == [half, len(lines) - half]
    assert report.rows_kept == len(lines)
    single = duckdb.connect()
    load_amazon(single, [sample / "reviews.jsonl"])
    assert _reviews(con) == _reviews(single)


def test_every_kind_of_bad_line_is_counted_with_its_line(tmp_path):
    path = _jsonl(tmp_path / "reviews.jsonl", [
        _review("u1", "A"),                                               # 1 ok
        '{"user_id": "u2", "parent_asin": "A", "rating": 4.0',            # 2 malformed
        {"user_id": "u3", "parent_asin": "A", "timestamp": TS},           # 3 no rating
        _review("u4", "A", rating="abc"),                                 # 4 not a number
        _review("u5", "A", rating=7),                                     # 5 out of range
        "",                                                               # 6 blank
        _review("u6", "A", ts="yesterday"),                               # 7 bad time
        {"user_id": "u7", "asin": "B", "rating": 5, "timestamp": TS},     # 8 ok: asin fallback
        {"user_id": "", "parent_asin": "A", "rating": 3, "timestamp": TS},  # 9 empty user
        "[1, 2]",                                                         # 10 JSON, not a review
        _review("u8", "A", rating=0.5),                                   # 11 below 1
    ])
    con = duckdb.connect()
    report = load_amazon(con, [path])
    assert report.rows_read == 11 and report.rows_kept == 2
    assert report.skipped == {
        "bad_rating": 3, "bad_timestamp": 1, "blank_line": 1, "malformed_json": 1, "missing_field": 3,
    }
    assert report.bad_lines == [
        f"{path}:2: malformed JSON",
        f"{path}:3: missing rating",
        f"{path}:4: rating abc is not a number",
        f"{path}:5: rating 7 outside 1..5",
        f"{path}:6: blank line",
    ]
    assert _reviews(con) == [("u1", "A", 4.0, TS), ("u7", "B", 5.0, TS)]
    more = load_amazon(duckdb.connect(), [path], options={"max_bad_lines": 20})
    assert more.bad_lines[5:] == [
        f"{path}:7: timestamp yesterday is not a valid time",
        f"{path}:9: missing user_id",
        f"{path}:10: missing user_id, parent_asin/asin, rating, timestamp",
        f"{path}:11: rating 0.5 outside 1..5",
    ]
    assert "malformed JSON 1" in report.summary() and f"{path}:2" in report.summary()


def test_line_numbers_stay_exact_in_a_big_file_read_in_parallel(tmp_path):
    """Over 32 MB, DuckDB splits the file between threads; numbering must not care."""
    filler = "x" * 400
    bad_at = {7, 41_234, 95_001}
    path = tmp_path / "big.jsonl"
    with open(path, "w") as fh:
        for i in range(1, 95_002):
            if i in bad_at:
                fh.write('{"broken": \n')
            else:
                fh.write(json.dumps(_review(f"u{i % 977}", f"i{i % 501}", text=filler)) + "\n")
    con = duckdb.connect()
    con.execute("SET threads = 4")
    report = load_amazon(con, [path], options={"checksum": False})
    assert report.rows_read == 95_001 and report.skipped == {"malformed_json": 3}
    assert report.bad_lines == [f"{path}:{n}: malformed JSON" for n in sorted(bad_at)]


def test_parquet_row_numbers_across_row_groups(tmp_path):
    rows = [_review(f"u{i}", "A", rating=(9.0 if i in (1234, 2999) else 3.0)) for i in range(1, 3001)]
    path = tmp_path / "r.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=100)
    con = duckdb.connect()
    con.execute("SET threads = 4")
    report = load_amazon(con, [path])
    assert report.rows_kept == 2998
    assert report.bad_lines == [f"{path}:row 1234: rating 9.0 outside 1..5",
                                f"{path}:row 2999: rating 9.0 outside 1..5"]


def test_item_metadata_fields(tmp_path):
    meta = _jsonl(tmp_path / "meta_Books.jsonl", [
        {"parent_asin": "P1", "title": "  Tom &amp; Jerry &#233;t&eacute; ", "main_category": "Books",
         "author": {"name": "Ann Author", "about": ["bio"]}, "description": ["Line one.", "Line two."]},
        {"parent_asin": "P2", "title": "Plain", "details": {"Author": "Bob Details", "Pages": 3}},
        {"asin": "P3", "title": "Only asin", "author": "String Author", "description": "one string"},
        {"parent_asin": "P4", "title": "", "details": {"author": "lower case"}},
        {"parent_asin": "P1", "title": None, "main_category": "Duplicate without title"},
        {"title": "no id at all"},
        "{not json",
    ])
    reviews = _jsonl(tmp_path / "r.jsonl", [_review("u", p) for p in ("P1", "P2", "P3", "P4", "P9")])
    con = duckdb.connect()
    report = load_amazon(con, [reviews], [meta])
    rows = {r[0]: r[1:] for r in con.execute("SELECT * FROM raw_items").fetchall()}
    assert rows == {
        "P1": ("Tom & Jerry été", "Ann Author", "Books", "Line one. Line two."),
        "P2": ("Plain", "Bob Details", None, None),
        "P3": ("Only asin", "String Author", None, "one string"),
        "P4": (None, "lower case", None, None),
    }
    # the P1 row that lost is a skipped row, not a kept item
    assert report.items_skipped == {"duplicate_item": 1, "malformed_json": 1, "missing_field": 1}
    assert (report.items_read, report.items_kept) == (7, 4) == (7, len(rows))
    assert report.files[-1].skipped["duplicate_item"] == 1 and report.files[-1].rows_kept == 4
    assert "duplicate item id 1" in report.summary()
    assert f"{meta}:6: missing parent_asin" in report.bad_lines
    assert report.counts["duplicate_item_rows"] == 1
    assert report.counts["reviewed_items_without_meta"] == 1  # P9


def test_parquet_meta_with_author_struct_and_details_string(tmp_path):
    pq.write_table(pa.Table.from_pylist([
        {"parent_asin": "P1", "title": "A &amp; B", "author": {"name": "Ann"}, "description": ["x", "y"],
         "details": json.dumps({"Publisher": "Z"})},
        {"parent_asin": "P2", "title": "C", "author": None, "description": [],
         "details": json.dumps({"Author": "Bob"})},
    ]), tmp_path / "meta.parquet")
    pq.write_table(pa.Table.from_pylist([_review("u", "P1"), _review("u", "P2", rating=9.0)]),
                   tmp_path / "r.parquet")
    con = duckdb.connect()
    report = load_amazon(con, [tmp_path / "r.parquet"], [tmp_path / "meta.parquet"])
    assert con.execute("SELECT * FROM raw_items ORDER BY item_id").fetchall() == [
        ("P1", "A & B", "Ann", None, "x y"), ("P2", "C", "Bob", None, None)]
    assert report.bad_lines == [f"{tmp_path / 'r.parquet'}:row 2: rating 9.0 outside 1..5"]


def test_empty_file_names_the_file(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(InputDataError, match=r"empty\.jsonl: no usable review rows: the file is empty"):
        load_amazon(duckdb.connect(), [empty])


def test_file_with_only_bad_rows_names_the_file_and_first_problem(tmp_path):
    bad = _jsonl(tmp_path / "bad.jsonl", ["{oops", _review("u", "A", rating="five")])
    with pytest.raises(InputDataError) as err:
        load_amazon(duckdb.connect(), [bad])
    msg = str(err.value)
    assert str(bad) in msg and "2 lines" in msg and f"{bad}:1: malformed JSON" in msg


def test_meta_file_with_no_usable_rows_is_an_error(tmp_path):
    reviews = _jsonl(tmp_path / "r.jsonl", [_review("u", "A")])
    meta = _jsonl(tmp_path / "meta.jsonl", [{"title": "no id"}])
    with pytest.raises(InputDataError, match="meta.jsonl: no usable item rows"):
        load_amazon(duckdb.connect(), [reviews], [meta])


def test_missing_files_and_folders(tmp_path):
    with pytest.raises(InputDataError, match="nope.jsonl: review file not found"):
        load_amazon(duckdb.connect(), [tmp_path / "nope.jsonl"])
    reviews = _jsonl(tmp_path / "r.jsonl", [_review("u", "A")])
    with pytest.raises(InputDataError, match="meta_x.jsonl: metadata file not found"):
        load_amazon(duckdb.connect(), [reviews], [tmp_path / "meta_x.jsonl"])
    (tmp_path / "emptydir").mkdir()
    with pytest.raises(InputDataError, match="no .jsonl"):
        load_amazon(duckdb.connect(), [tmp_path / "emptydir"])


def test_broken_gzip_is_an_input_error(tmp_path):
    gz = tmp_path / "r.jsonl.gz"
    gz.write_bytes(gzip.compress(b'{"a": 1}\n' * 1000)[:200])
    with pytest.raises(InputDataError, match=r"r\.jsonl\.gz"):
        load_amazon(duckdb.connect(), [gz])


def test_non_utf8_line_is_an_input_error_with_its_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(json.dumps(_review("u", "A")).encode() + b'\n{"user_id": "caf\xe9"}\n')
    with pytest.raises(InputDataError, match=r"r\.jsonl:2: cannot read: not valid UTF-8"):
        load_amazon(duckdb.connect(), [path])


def test_without_meta_raw_items_exists_and_is_empty(tmp_path):
    con = duckdb.connect()
    report = load_amazon(con, [_jsonl(tmp_path / "r.jsonl", [_review("u", "A")])])
    assert con.execute("SELECT count(*) FROM raw_items").fetchone()[0] == 0
    assert any("no metadata" in n for n in report.notes)


def test_seconds_timestamps_get_a_note(tmp_path):
    report = load_amazon(duckdb.connect(), [_jsonl(tmp_path / "r.jsonl", [_review("u", "A", ts=1_600_000_000)])])
    assert any("look like seconds" in n for n in report.notes)


def test_options_are_checked_and_settings_untouched(tmp_path):
    path = _jsonl(tmp_path / "r.jsonl", [_review("u", "A")])
    with pytest.raises(ConfigError, match="unknown option"):
        load_amazon(duckdb.connect(), [path], options={"chekcsum": False})
    with pytest.raises(ConfigError, match="max_bad_lines"):
        load_amazon(duckdb.connect(), [path], options={"max_bad_lines": -1})
    with pytest.raises(ConfigError, match="--memory-limit"):  # a build setting now, fixed at connect
        load_amazon(duckdb.connect(), [path], options={"memory_limit": "500MB"})
    con = duckdb.connect()
    con.execute("SET memory_limit = '3GB'")
    settings = "SELECT current_setting('memory_limit'), current_setting('preserve_insertion_order'), " \
               "current_setting('threads')"
    before = con.execute(settings).fetchall()
    load_amazon(con, [path])
    assert con.execute(settings).fetchall() == before  # a reader SETs nothing
