"""The run's call logs: buffered until flushed, one file per method, none for a model
that makes no calls, a torn last line closed before appending."""

from __future__ import annotations

import json

from perrecbench.records import CallRecord
from perrecbench.run.calllog import MAX_PENDING, CallLog, CallRouter


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_lines_wait_for_flush_and_a_full_buffer_writes_itself(tmp_path):
    log = CallLog(tmp_path / "calls.jsonl")
    log.write(CallRecord(ts=1.0, status="ok", method="list"))
    assert not (tmp_path / "calls.jsonl").exists()  # nothing opened before the first flush
    log.flush()
    assert [r["status"] for r in _lines(tmp_path / "calls.jsonl")] == ["ok"]
    for i in range(MAX_PENDING):
        log.write(CallRecord(ts=2.0, status="cached", sample=i))
    assert len(_lines(tmp_path / "calls.jsonl")) == 1 + MAX_PENDING
    log.close()


def test_router_writes_each_method_into_its_run_directory(tmp_path):
    router = CallRouter({"point": tmp_path / "point", "list": tmp_path / "list"})
    router.write(CallRecord(ts=1.0, status="ok", method="list", question_id="q"))
    router.write(CallRecord(ts=1.0, status="ok", method="point", member=1))
    router.write(CallRecord(ts=1.0, status="ok", task="profile"))  # about no method: the first directory
    router.close()
    assert [r.get("question_id") for r in _lines(tmp_path / "list" / "calls.jsonl")] == ["q"]
    assert [r.get("member") for r in _lines(tmp_path / "point" / "calls.jsonl")] == [1, None]
    quiet = CallRouter({"pair": tmp_path / "pair"})
    quiet.close()
    assert not (tmp_path / "pair" / "calls.jsonl").exists()


def test_torn_line_is_closed_before_appending(tmp_path):
    path = tmp_path / "calls.jsonl"
    path.write_text('{"status": "ok", "ts": 1}\n{"status": "o')
    log = CallLog(path)
    log.write(CallRecord(ts=2.0, status="cached"))
    log.close()
    assert json.loads(path.read_text().splitlines()[-1])["status"] == "cached"
