"""Generic table reader: column names, time units, rating range, item tables, bad input."""

from __future__ import annotations

import gzip
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from perrecbench.data.sources import load_source
from perrecbench.data.table import load_table
from perrecbench.errors import ConfigError, InputDataError

T0 = 1_600_000_000


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_custom_columns_seconds_and_item_table(tmp_path):
    reviews = _write(tmp_path / "r.csv", f"who,what,stars,when\nu1,i1,4,{T0}\nu2,i1,2.5,{T0 + 1}\nu2,i2,5,{T0 + 2}\n")
    items = _write(tmp_path / "items.csv", 'what,name,genre\ni1,"First, item",Drama\ni2,Second &amp; last,\n')
    con = duckdb.connect()
    report = load_source(con, "table", [reviews], [items], {
        "user_col": "who", "item_col": "what", "rating_col": "stars", "time_col": "when",
        "title_col": "name", "category_col": "genre",
    })
    assert con.execute("SELECT * FROM raw_reviews ORDER BY timestamp").fetchall() == [
        ("u1", "i1", 4.0, T0 * 1000), ("u2", "i1", 2.5, (T0 + 1) * 1000), ("u2", "i2", 5.0, (T0 + 2) * 1000)]
    assert con.execute("SELECT * FROM raw_items ORDER BY item_id").fetchall() == [
        ("i1", "First, item", None, "Drama", None), ("i2", "Second & last", None, None, None)]
    assert report.rows_kept == 3 and report.items_kept == 2


@pytest.mark.parametrize("unit,value,want", [
    ("ms", str(T0 * 1000 + 123), T0 * 1000 + 123),
    ("s", "1600000000.5", T0 * 1000 + 500),
    ("iso", "2020-09-13T12:26:40Z", T0 * 1000),
    ("iso", "2020-09-13 14:26:40+02:00", T0 * 1000),
    ("iso", "2020-09-13 12:26:40", T0 * 1000),  # no offset: UTC
])
def test_time_units(tmp_path, unit, value, want):
    path = _write(tmp_path / "r.csv", f"user_id,item_id,rating,timestamp\nu,i,3,{value}\n")
    con = duckdb.connect()
    load_table(con, [path], options={"time_unit": unit})
    assert con.execute("SELECT timestamp FROM raw_reviews").fetchone()[0] == want


def test_rating_range_is_configurable(tmp_path):
    path = _write(tmp_path / "r.csv", "user_id,item_id,rating,timestamp\nu,a,10,1\nu,b,0,1\nu,c,11,1\n")
    report = load_table(duckdb.connect(), [path], options={"rating_min": 1, "rating_max": 10})
    assert report.rows_kept == 1
    assert report.bad_lines == [f"{path}:3: rating 0 outside 1..10", f"{path}:4: rating 11 outside 1..10"]
    with pytest.raises(ConfigError, match="above"):
        load_table(duckdb.connect(), [path], options={"rating_min": 5, "rating_max": 1})


def test_bad_values_are_skipped_with_lines(tmp_path):
    path = _write(tmp_path / "r.csv", "user_id,item_id,rating,timestamp\nu,a,4,1\n,b,4,1\nu,c,abc,1\nu,d,4,\nu,e,4,x\n")
    report = load_table(duckdb.connect(), [path])
    assert report.skipped == {"missing_field": 2, "bad_rating": 1, "bad_timestamp": 1}
    assert report.bad_lines == [
        f"{path}:3: missing user_id", f"{path}:4: rating abc is not a number",
        f"{path}:5: missing timestamp", f"{path}:6: timestamp x is not a valid time",
    ]


def test_parquet_reviews_with_a_typed_timestamp_column(tmp_path):
    when = datetime.fromtimestamp(T0, tz=timezone.utc)
    pq.write_table(pa.table({
        "user": ["u1", "u2"], "item": [10, 11], "score": [4.0, None], "at": [when, when],
    }), tmp_path / "r.parquet")
    con = duckdb.connect()
    report = load_table(con, [tmp_path / "r.parquet"], options={
        "user_col": "user", "item_col": "item", "rating_col": "score", "time_col": "at"})
    assert con.execute("SELECT * FROM raw_reviews").fetchall() == [("u1", "10", 4.0, T0 * 1000)]
    assert report.bad_lines == [f"{tmp_path / 'r.parquet'}:row 2: missing score"]


def test_tsv_gz_semicolon_and_headerless(tmp_path):
    tsv = tmp_path / "r.tsv.gz"
    tsv.write_bytes(gzip.compress(b"user_id\titem_id\trating\ttimestamp\nu\ti\t5\t1\n"))
    semi = _write(tmp_path / "r2.csv", "user_id;item_id;rating;timestamp\nu;j;4;2\n")
    bare = _write(tmp_path / "r3.txt", "u,k,3,3\n")
    con = duckdb.connect()
    load_table(con, [tsv, semi])
    assert con.execute("SELECT item_id FROM raw_reviews ORDER BY 1").fetchall() == [("i",), ("j",)]
    report = load_table(con, [bare], options={"header": False, "columns": ["user_id", "item_id", "rating", "timestamp"]})
    assert con.execute("SELECT * FROM raw_reviews").fetchall() == [("u", "k", 3.0, 3000)]
    assert report.rows_kept == 1
    with pytest.raises(ConfigError, match="columns"):
        load_table(con, [bare], options={"header": False})


def test_missing_column_names_the_option(tmp_path):
    path = _write(tmp_path / "r.csv", "user,item_id,rating,timestamp\nu,i,4,1\n")
    with pytest.raises(InputDataError, match="no column 'user_id' .*user_col"):
        load_table(duckdb.connect(), [path])


def test_wrong_number_of_fields_stops_with_the_line(tmp_path):
    path = _write(tmp_path / "r.csv", "user_id,item_id,rating,timestamp\nu,i,4,1\nu,i,4\n")
    with pytest.raises(InputDataError, match=r"r\.csv:3: cannot read: expected 4 fields, found 3"):
        load_table(duckdb.connect(), [path])


def test_bad_options_and_files(tmp_path):
    path = _write(tmp_path / "r.csv", "user_id,item_id,rating,timestamp\nu,i,4,1\n")
    with pytest.raises(ConfigError, match="time_unit"):
        load_table(duckdb.connect(), [path], options={"time_unit": "hours"})
    with pytest.raises(ConfigError, match="unknown option"):
        load_table(duckdb.connect(), [path], options={"user_column": "x"})
    with pytest.raises(InputDataError, match="missing.csv: review file not found"):
        load_table(duckdb.connect(), [tmp_path / "missing.csv"])
    with pytest.raises(InputDataError, match="items.csv: item file not found"):
        load_table(duckdb.connect(), [path], [tmp_path / "items.csv"])
    with pytest.raises(ConfigError, match="unknown source 'csv'"):
        load_source(duckdb.connect(), "csv", [path])


def test_item_table_without_the_id_column_is_an_error(tmp_path):
    path = _write(tmp_path / "r.csv", "user_id,item_id,rating,timestamp\nu,i,4,1\n")
    items = _write(tmp_path / "items.csv", "id,title\ni,T\n")
    with pytest.raises(InputDataError, match="no column 'item_id'.*item_id_col"):
        load_table(duckdb.connect(), [path], [items])
    con = duckdb.connect()
    load_table(con, [path], [items], options={"item_id_col": "id"})
    assert con.execute("SELECT item_id, title FROM raw_items").fetchall() == [("i", "T")]


def test_milliseconds_read_as_seconds_are_refused_with_a_hint(tmp_path):
    # read as seconds, ms times fall ~50,000 years ahead: skipped ("future_timestamp")
    path = _write(tmp_path / "r.csv", f"user_id,item_id,rating,timestamp\nu,i,4,{T0 * 1000}\n")
    with pytest.raises(InputDataError, match=r"r\.csv:2: timestamp \d+ is after 2100.*time_unit"):
        load_table(duckdb.connect(), [path])
    rows = "".join(f"u{k},i,4,{T0 * 1000}\n" for k in range(3))
    path = _write(tmp_path / "r2.csv", f"user_id,item_id,rating,timestamp\nv,i,4,{T0}\n{rows}")
    report = load_table(duckdb.connect(), [path])
    assert report.skipped == {"future_timestamp": 3} and report.rows_kept == 1
    assert any("time_unit=ms" in n for n in report.notes)


def test_the_header_is_read_from_the_first_line_whatever_the_scan_order(tmp_path):
    # DuckDB's parallel scan (insertion order off, as data.duck.connect sets it) used
    # to hand `LIMIT 1` a data row from after a 10 MB line in most tries, giving
    # "no column 'user_id' (columns: U0, I0, ...)"; the header is now read in Python
    rows = "".join(f"U{k},I{k % 50},3.0,{T0}\n" for k in range(100))
    path = _write(tmp_path / "r.csv", f"user_id,item_id,rating,timestamp\nU0,I34,3.0,{T0},{'x' * 10_000_000}\n{rows}")
    for _ in range(6):
        con = duckdb.connect(config={"preserve_insertion_order": False})
        with pytest.raises(InputDataError, match=r"r\.csv:2: cannot read: expected 4 fields, found 5"):
            load_table(con, [path])


def test_header_of_a_zstd_file_and_a_bad_header(tmp_path):
    con = duckdb.connect()
    plain = _write(tmp_path / "r.csv", f"\ufeffuser_id;item_id;rating;timestamp\r\nu;i;4;{T0}\r\n")
    con.execute(f"COPY (SELECT * FROM read_csv('{plain}', all_varchar=true)) TO '{tmp_path / 'r.csv.zst'}' "
                "(FORMAT csv, DELIMITER ';', COMPRESSION zstd)")
    for path in (plain, tmp_path / "r.csv.zst"):
        assert load_table(duckdb.connect(), [path]).rows_kept == 1
    (tmp_path / "latin.csv").write_bytes(b"user_id,item_id,rating,caf\xe9\n")
    with pytest.raises(InputDataError, match=r"latin\.csv:1: cannot read: not valid UTF-8"):
        load_table(con, [tmp_path / "latin.csv"])
    with pytest.raises(InputDataError, match="empty"):
        load_table(con, [_write(tmp_path / "empty.csv", "\n\n")])


def test_far_future_timestamps_are_skipped_per_reason(tmp_path):
    far = 1_231_006_505_000_000  # ms: the year ~41,000
    path = _write(tmp_path / "r.csv", "user_id,item_id,rating,timestamp\n"
                  f"u1,i1,4,{T0 * 1000}\nu2,i1,3,{far}\nu3,i1,5,4102444799999\nu4,i1,5,4102444800000\n")
    report = load_table(duckdb.connect(), [path], options={"time_unit": "ms"})
    assert (report.rows_read, report.rows_kept) == (4, 2)
    assert report.skipped == {"future_timestamp": 2}
    assert report.bad_lines == [f"{path}:3: timestamp {far} is after 2100",
                                f"{path}:5: timestamp 4102444800000 is after 2100"]
    assert "timestamp after 2100 2" in report.summary()


def test_duplicate_item_rows_are_skipped_per_file(tmp_path):
    reviews = _write(tmp_path / "r.csv", f"user_id,item_id,rating,timestamp\nu,i1,4,{T0}\nu,i2,4,{T0}\n")
    a = _write(tmp_path / "a.csv", "item_id,title\ni1,\ni2,Two\ni1,One\n")
    b = _write(tmp_path / "b.csv", "item_id,title\ni2,Two\ni3,Three\n")
    con = duckdb.connect()
    report = load_table(con, [reviews], [a, b])
    assert con.execute("SELECT item_id, title FROM raw_items ORDER BY 1").fetchall() == [
        ("i1", "One"), ("i2", "Two"), ("i3", "Three")]
    # i1 without a title loses (in a.csv); of the two equal i2 rows the first file's wins
    assert (report.items_read, report.items_kept) == (5, 3)
    assert report.items_skipped == {"duplicate_item": 2}
    per_file = {Path(f.path).name: (f.rows_kept, f.skipped) for f in report.files if f.role == "items"}
    assert per_file == {"a.csv": (2, {"duplicate_item": 1}), "b.csv": (1, {"duplicate_item": 1})}


def test_only_the_header_line_is_decoded_for_the_header(tmp_path):
    # a bad byte on line 3 is the reader's to report (with its line), not the header's
    (tmp_path / "r.csv").write_bytes(f"user_id,item_id,rating,timestamp\nu,i,4,{T0}\nu,\xff,4,{T0}\n".encode("latin-1"))
    with pytest.raises(InputDataError, match=r"r\.csv:3: cannot read: not valid UTF-8"):
        load_table(duckdb.connect(), [tmp_path / "r.csv"])
    old_mac = _write(tmp_path / "mac.csv", f"user_id,item_id,rating,timestamp\ru,i,4,{T0}\r")
    assert load_table(duckdb.connect(), [old_mac]).rows_kept == 1  # a lone \r ends the header too
