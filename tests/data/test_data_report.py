"""LoadReport: totals per role, summary text, manifest round trip; the source registry."""

from __future__ import annotations

import json

from perrecbench.data.report import FileStats, LoadReport


def _report() -> LoadReport:
    r = LoadReport(source="amazon2023")
    r.add_file(FileStats("a.jsonl", "reviews", "sha256:00", 10, rows_read=5, rows_kept=3,
                         skipped={"malformed_json": 1, "bad_rating": 1}))
    r.add_file(FileStats("b.jsonl", "reviews", None, 10, rows_read=4, rows_kept=4))
    r.add_file(FileStats("meta.jsonl", "items", None, 10, rows_read=2, rows_kept=1,
                         skipped={"missing_field": 1}))
    r.bad_lines.append("a.jsonl:2: malformed JSON")
    r.notes.append("something to read")
    return r


def test_totals_per_role():
    r = _report()
    assert (r.rows_read, r.rows_kept, r.rows_skipped) == (9, 7, 2)
    assert r.skipped == {"malformed_json": 1, "bad_rating": 1}
    assert (r.items_read, r.items_kept, r.items_skipped) == (2, 1, {"missing_field": 1})


def test_summary_mentions_counts_reasons_lines_and_notes():
    text = _report().summary()
    assert text.splitlines()[0] == (
        "amazon2023: 9 review rows read, 7 kept, 2 skipped; 2 item rows read, 1 kept (3 files)")
    assert "bad rating 1, malformed JSON 1" in text
    assert "items skipped: missing field 1" in text
    assert "a.jsonl:2: malformed JSON" in text and "note: something to read" in text


def test_to_dict_is_json_and_round_trips():
    r = _report()
    d = json.loads(json.dumps(r.to_dict()))
    assert d["rows_skipped"] == 2 and d["files"][0]["sha256"] == "sha256:00"
    assert LoadReport.from_dict(d) == r


def test_for_synthetic():
    r = LoadReport.for_synthetic({"seed": 3}, n_reviews=100, n_items=7)
    assert (r.source, r.rows_read, r.rows_kept, r.items_kept, r.files) == ("synthetic", 100, 100, 7, [])
    assert r.options == {"seed": 3} and "100 review rows read" in r.summary()
