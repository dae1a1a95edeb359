"""An unexpected error inside a build stage: one line naming the stage and the log, no
traceback, no half-written benchmark; and the builder changes no DuckDB setting."""

from __future__ import annotations

import sys

import pytest

from perrecbench.builder import builder, search, sql
from perrecbench.builder.params import BuildParams
from perrecbench.builder.pipeline import BuildFailed, build_from_source, error_log_path
from perrecbench.cli.main import main
from perrecbench.data.duck import connect
from perrecbench.data.sources import load_source

SMALL = {"n_users": 300, "n_items": 120, "reviews_per_user": 30}


def _boom(*args, **kwargs):
    raise ValueError("injected failure")


def _synthetic_argv(out):
    return ["perrecbench", "build", "--source", "synthetic", "--out", str(out), "--no-progress",
            "--n-items", "5", "--n-heldout", "2"] + [a for k, v in SMALL.items() for a in ("--option", f"{k}={v}")]


def _main() -> int:
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_a_failing_stage_is_one_line_and_leaves_the_old_benchmark(tmp_path, monkeypatch, capsys):
    out = tmp_path / "bench"
    monkeypatch.setattr(sys, "argv", _synthetic_argv(out))
    assert _main() == 0
    before = (out / "manifest.json").read_bytes()
    capsys.readouterr()

    monkeypatch.setattr(search, "choose_group", _boom)  # deep inside the group search
    assert _main() == BuildFailed.exit_code
    err = capsys.readouterr().err
    log = error_log_path(out)
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1
    joined = " ".join(err.split())  # rich wraps long lines
    assert "failed while grouping items: ValueError: injected failure" in joined
    assert str(log) in joined
    assert "Traceback" in log.read_text() and "choose_group" in log.read_text()
    assert (out / "manifest.json").read_bytes() == before  # the earlier benchmark is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench", log.name]  # no .building

    monkeypatch.undo()
    monkeypatch.setattr(sys, "argv", _synthetic_argv(out))
    assert _main() == 0
    assert not log.exists()  # a successful rebuild removes the stale log


def test_input_errors_pass_through_unwrapped(tmp_path):
    empty = tmp_path / "r.jsonl"
    empty.write_text("")
    with pytest.raises(Exception) as exc:
        build_from_source("amazon2023", [empty], [], tmp_path / "b", BuildParams())
    assert not isinstance(exc.value, BuildFailed) and "empty" in str(exc.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.jsonl"]


def test_the_builder_sets_nothing_on_the_connection(tmp_path):
    con, limit = connect(300_000_000, tmp_path / "spill", threads=2)
    load_source(con, "synthetic", [], None, SMALL)
    settings = ("memory_limit", "threads", "preserve_insertion_order", "temp_directory", "TimeZone")
    query = "SELECT " + ", ".join(f"current_setting('{s}')" for s in settings)
    before = con.execute(query).fetchall()
    builder.build_benchmark(con, BuildParams(n_items=5, n_heldout=2), tmp_path / "b", memory_limit=limit)
    assert con.execute(query).fetchall() == before


def test_the_limit_connect_set_travels_as_a_number(tmp_path, monkeypatch):
    """`connect` returns the limit it set, and the builder cuts its sorts for that number
    (DuckDB shows its setting as rounded text, "286.1 MiB"; nobody parses it back)."""
    con, limit = connect(300_000_000, tmp_path / "spill", threads=2)
    assert limit == 300_000_000
    assert connect().memory_limit is None
    load_source(con, "synthetic", [], None, SMALL)
    cuts = []
    code_ranges = sql.code_ranges
    monkeypatch.setattr(sql, "code_ranges", lambda c, t, k, rows: cuts.append(rows) or code_ranges(c, t, k, rows))
    builder.build_benchmark(con, BuildParams(n_items=5, n_heldout=2), tmp_path / "b", memory_limit=limit)
    assert cuts and set(cuts) == {max(sql.MIN_ROWS_PER_SORT, 300_000_000 // sql.BYTES_PER_SORTED_ROW)}
