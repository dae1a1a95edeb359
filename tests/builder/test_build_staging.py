"""The atomic write-a-directory helper: all or nothing, and never someone else's folder."""

from __future__ import annotations

import pytest

from perrecbench.builder.staging import MARKER, staged_directory, staging_path
from perrecbench.errors import ConfigError


def _bench(folder, text="old"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(text)
    return folder


def test_success_replaces_an_earlier_benchmark(tmp_path):
    out = _bench(tmp_path / "b")
    with staged_directory(out) as tmp:
        assert tmp == staging_path(out) and not out.joinpath("new.txt").exists()
        (tmp / "manifest.json").write_text("new")
    assert (out / "manifest.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]
    assert not (out / MARKER).exists()


def test_failure_keeps_the_earlier_benchmark_and_removes_the_staging_folder(tmp_path):
    out = _bench(tmp_path / "b")
    with pytest.raises(KeyboardInterrupt):
        with staged_directory(out) as tmp:
            (tmp / "half.jsonl").write_text("{")
            raise KeyboardInterrupt
    assert (out / "manifest.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def test_refuses_foreign_folders(tmp_path):
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep")
    with pytest.raises(ConfigError, match="not a benchmark"):
        with staged_directory(foreign):
            pass
    assert (foreign / "precious.txt").read_text() == "keep"
    # a folder named like our staging folder but without our marker is not ours either
    out = tmp_path / "b"
    staging_path(out).mkdir()
    (staging_path(out) / "thesis.tex").write_text("keep")
    with pytest.raises(ConfigError, match="not made by perrecbench"):
        with staged_directory(out):
            pass
    assert (staging_path(out) / "thesis.tex").exists()


def test_a_crashed_run_is_cleaned_up_by_the_next(tmp_path):
    out = tmp_path / "b"
    stale = staging_path(out)
    stale.mkdir()
    (stale / MARKER).touch()
    (stale / "half.jsonl").write_text("{")  # what a kill -9 leaves
    with staged_directory(out) as tmp:
        assert list(tmp.iterdir()) == [tmp / MARKER]
        (tmp / "manifest.json").write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def test_a_crash_between_the_two_renames_gives_the_old_benchmark_back(tmp_path):
    out = _bench(tmp_path / "b")
    (out / MARKER).touch()
    out.rename(tmp_path / "b.replaced")  # the state right after the first rename
    with pytest.raises(RuntimeError):
        with staged_directory(out):
            assert (out / "manifest.json").read_text() == "old"  # restored before work starts
            raise RuntimeError
    assert (out / "manifest.json").read_text() == "old" and not (out / MARKER).exists()
