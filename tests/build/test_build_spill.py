"""A build whose DuckDB work spills to disk gives the same bytes as one that does not.

The proof for issue 9: before, a load that spilled made the builder crash when it
moved DuckDB's temporary directory (and a tiny limit ran out of memory outright).
"""

from __future__ import annotations

import hashlib
import sys

import pytest
from spill_data import write_reviews

from perrecbench.cli.main import main


def _build(monkeypatch, capsys, reviews, meta, out, *extra: str) -> str:
    argv = ["perrecbench", "build", "--source", "amazon2023", "--input", str(reviews), "--meta", str(meta),
            "--out", str(out), "--no-progress", *extra]
    monkeypatch.setattr(sys, "argv", argv)
    try:
        main()
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr().err
    return capsys.readouterr().err


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_reviews(tmp_path_factory.mktemp("spill-data"))  # 300k reviews, 45 MB


def test_a_build_that_spills_writes_the_same_bytes(data, tmp_path, monkeypatch, capsys):
    reviews, meta = data
    spilled = _build(monkeypatch, capsys, reviews, meta, tmp_path / "small" / "bench",
                     "--memory-limit", "8MB", "--workers", "1")
    assert "DuckDB spilled up to" in spilled, spilled  # it really did spill
    roomy = _build(monkeypatch, capsys, reviews, meta, tmp_path / "roomy" / "bench",
                   "--memory-limit", "4GB", "--workers", "2")
    assert "spilled" not in roomy, roomy
    small, big = _digests(tmp_path / "small" / "bench"), _digests(tmp_path / "roomy" / "bench")
    assert "reviews.parquet" in small and "test-hard.jsonl" in small
    assert small == big  # every file, Parquet and manifest included
    leftovers = sorted(p.name for p in (tmp_path / "small").iterdir())
    assert leftovers == ["bench"]  # no staging or spill folder left behind
