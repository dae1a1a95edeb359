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


def _argv(reviews, meta, out, *extra: str) -> list[str]:
    return ["perrecbench", "build", "--source", "amazon2023", "--input", str(reviews), "--meta", str(meta),
            "--out", str(out), "--no-progress", *extra]


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_reviews(tmp_path_factory.mktemp("spill-data"))  # 300k reviews, 67 MB


@pytest.fixture(scope="module")
def roomy(data, tmp_path_factory):
    """The same build with room to spare: nothing spills."""
    out = tmp_path_factory.mktemp("roomy") / "bench"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", _argv(*data, out, "--memory-limit", "4GB"))
        try:
            main()
        except SystemExit as exc:
            assert exc.code in (0, None)
    return _digests(out)


# 8MB: DuckDB gets its floor and the load itself spills (before: out of memory);
# 100MB: the load spills (before: "Cannot switch temporary directory" in the builder),
# here into a spill folder of the user's choosing
@pytest.mark.parametrize(("limit", "own_temp_dir"), [("8MB", False), ("100MB", True)])
def test_a_build_that_spills_writes_the_same_bytes(data, roomy, limit, own_temp_dir, tmp_path, monkeypatch,
                                                   capsys):
    out = tmp_path / "small" / "bench"
    spill = tmp_path / "spill"
    extra = ["--temp-dir", str(spill)] if own_temp_dir else []
    monkeypatch.setattr(sys, "argv", _argv(*data, out, "--memory-limit", limit, *extra))
    try:
        main()
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr().err
    err = capsys.readouterr().err
    assert "DuckDB spilled up to" in err, err  # it really did spill
    small = _digests(out)
    assert "reviews.parquet" in small and "test-hard.jsonl" in small
    assert small == roomy  # every file, Parquet and manifest included
    assert sorted(p.name for p in out.parent.iterdir()) == ["bench"]  # no staging or spill folder left
    if own_temp_dir:
        assert spill.is_dir() and not any(spill.iterdir())
