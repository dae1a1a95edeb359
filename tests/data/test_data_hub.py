"""Hugging Face hub download of Amazon Reviews 2023 files, without the network."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import shared_path

from perrecbench.data import hub
from perrecbench.data.amazon import load_amazon
from perrecbench.errors import ConfigError, InputDataError


def test_categories_are_the_33_plus_unknown():
    assert len(hub.CATEGORIES) == 34 and len(set(hub.CATEGORIES)) == 34
    assert hub.CATEGORIES[-1] == "Unknown" and "Books" in hub.CATEGORIES


def test_category_names_are_checked_and_forgiven():
    assert hub.check_category("Books") == "Books"
    assert hub.check_category("home and kitchen") == "Home_and_Kitchen"
    assert hub.check_category("Arts_Crafts_&_Sewing") == "Arts_Crafts_and_Sewing"
    with pytest.raises(ConfigError, match="did you mean Electronics"):
        hub.check_category("Electronic")
    with pytest.raises(ConfigError, match="unknown Amazon Reviews 2023 category 'Shoes'"):
        hub.check_category("Shoes")


def test_file_layout_of_the_dataset_repo():
    assert hub.hub_filename("Books") == "raw/review_categories/Books.jsonl"
    assert hub.hub_filename("All_Beauty", "meta") == "raw/meta_categories/meta_All_Beauty.jsonl"
    with pytest.raises(ConfigError, match="kind"):
        hub.hub_filename("Books", "images")


def test_download_goes_through_hf_hub_download(tmp_path, monkeypatch):
    huggingface_hub = pytest.importorskip("huggingface_hub")
    sample = shared_path("data", "amazon2023-sample")
    calls = []

    def fake_download(repo_id, filename, *, repo_type=None, local_dir=None, **kw):
        calls.append((repo_id, repo_type, filename))
        source = sample / ("meta.jsonl" if "meta_" in filename else "reviews.jsonl")
        target = Path(local_dir) / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
        return str(target)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    reviews = hub.download_amazon("beauty and personal care", tmp_path / "cache")
    meta = hub.download_amazon("Beauty_and_Personal_Care", tmp_path / "cache", kind="meta")
    assert calls == [
        (hub.REPO_ID, "dataset", "raw/review_categories/Beauty_and_Personal_Care.jsonl"),
        (hub.REPO_ID, "dataset", "raw/meta_categories/meta_Beauty_and_Personal_Care.jsonl"),
    ]
    assert reviews == tmp_path / "cache" / "raw/review_categories/Beauty_and_Personal_Care.jsonl"
    report = load_amazon(duckdb.connect(), [reviews], [meta])
    assert report.rows_kept == 3455


def test_offline_without_a_local_copy_is_a_clear_error(tmp_path, monkeypatch):
    constants = pytest.importorskip("huggingface_hub.constants")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    with pytest.raises(InputDataError, match="not downloaded yet and the hub cannot be reached"):
        hub.download_amazon("Gift_Cards", tmp_path / "cache")


def test_missing_huggingface_hub_suggests_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(InputDataError, match=r"pip install 'perrecbench\[hub\]'"):
        hub.download_amazon("Books", tmp_path)


def test_unknown_category_fails_before_any_download(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(ConfigError):
        hub.download_amazon("Bookz and stuff", tmp_path)
