"""--memory-limit: sizes as DuckDB reads them, and DuckDB's share of the bound."""

from __future__ import annotations

import re

import pytest

from perrecbench.builder.memory import DUCKDB_FLOOR, GB, MB, duckdb_share, parse_size
from perrecbench.errors import ConfigError


def test_parse_size():
    assert parse_size("2GB") == 2 * GB
    assert parse_size("1.5 GiB") == int(1.5 * 2**30)
    assert parse_size("500mb") == 500 * MB
    for bad in ("", "2", "lots", "2 gigs", "0MB", "-1GB"):
        with pytest.raises(ConfigError, match="memory limit"):
            parse_size(bad)


def test_duckdb_gets_less_than_the_whole_bound_but_never_less_than_it_needs():
    for limit in (256 * MB, GB, 2 * GB, 16 * GB):
        share = duckdb_share(limit)
        assert DUCKDB_FLOOR <= share < limit
        assert limit - share <= 512 * MB
    assert duckdb_share(8 * MB) == DUCKDB_FLOOR  # a tiny bound: the floor


def _main(argv, monkeypatch) -> int:
    import sys

    from perrecbench.cli.main import main

    monkeypatch.setattr(sys, "argv", ["perrecbench", *argv])
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_a_limit_below_the_floor_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    from perrecbench.builder.memory import MemoryLimitTooSmall, floor, input_bytes, limit_text

    reviews = tmp_path / "reviews.jsonl"
    with open(reviews, "wb") as fh:  # sparse: 2 GB as the file system tells, no disk used, never read
        fh.truncate(2 * GB)
    need = floor(input_bytes([reviews]))
    assert need > 170 * MB  # 2 M reviews (0.46 GB) failed at 170MB
    out = tmp_path / "bench"
    argv = ["build", "--source", "amazon2023", "--input", str(reviews), "--out", str(out), "--no-progress"]
    assert _main([*argv, "--memory-limit", "150MB"], monkeypatch) == MemoryLimitTooSmall.exit_code
    err = " ".join(capsys.readouterr().err.split())
    assert "--memory-limit 150MB is below what a build of over 96 MB of input needs (2.00 GB here)" in err
    assert f"use --memory-limit {limit_text(need)} or more" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reviews.jsonl"]  # nothing staged, nothing read


def test_running_out_of_memory_names_the_option_and_a_limit(tmp_path, monkeypatch, capsys):
    """Forced: no floor, a DuckDB share far below what the reader's buffers need."""
    from spill_data import write_reviews

    from perrecbench.builder import memory
    from perrecbench.builder.pipeline import error_log_path

    reviews, meta = write_reviews(tmp_path / "data", n_users=400)
    assert memory.floor(memory.input_bytes([reviews, meta])) == 0  # a small input: no floor
    monkeypatch.setattr(memory, "DUCKDB_FLOOR", 16 * MB)
    out = tmp_path / "bench"
    argv = ["build", "--source", "amazon2023", "--input", str(reviews), "--meta", str(meta), "--out", str(out),
            "--no-progress", "--memory-limit", "20MB"]
    assert _main(argv, monkeypatch) == memory.MemoryLimitTooSmall.exit_code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1
    joined = " ".join(err.split())  # rich wraps long lines
    assert re.search(r"error: the build ran out of memory while [a-z0-9 ]+: --memory-limit 20MB "
                     r"\(DuckDB's share 16 MB\) is too small for this input \((could not allocate|failed to pin) .*\); "
                     r"use --memory-limit 40MB or more$", joined), joined
    assert not out.exists() and not error_log_path(out).exists()


def test_the_floor_by_input_size(tmp_path):
    from perrecbench.builder.memory import FLOOR_BASE, SMALL_INPUT, floor, input_bytes

    assert floor(0) == floor(SMALL_INPUT) == 0 and floor(SMALL_INPUT + 1) == FLOOR_BASE
    (tmp_path / "a.jsonl").write_bytes(b"x" * 100)
    (tmp_path / "b.jsonl.gz").write_bytes(b"x" * 100)  # compressed: counts 4 times
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "c.parquet").write_bytes(b"x" * 10)
    assert input_bytes([tmp_path / "a.jsonl", tmp_path / "b.jsonl.gz", tmp_path / "d", tmp_path / "none"]) == 540


def test_limit_text_rounds_up_to_a_value_the_option_takes():
    from perrecbench.builder.memory import limit_text

    assert [limit_text(n) for n in (1, 150 * MB, 151 * MB, GB, 1.25 * GB)] == [
        "10MB", "150MB", "160MB", "1GB", "1.3GB"]
    assert parse_size(limit_text(int(1.25 * GB))) >= 1.25 * GB
