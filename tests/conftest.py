"""Shared fixtures: the ../shared data folder (required in CI), a private home for caches,
and the MovieLens benchmark every test on real data shares (built once per session)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# the training tests' session fixtures, registered here once for tests/train and tests/models
from helpers.train_fixtures import point_sft, sft_bench, smollm2_dir, tiny_llama  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PERRECBENCH_SHARED", REPO.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """Path under ../shared; fails in CI (CI=true) and skips elsewhere when it is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        msg = f"shared test data missing: {path} (expected ../shared beside the checkout)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture
def shared() -> callable:
    return shared_path


#: the build settings of the shared MovieLens benchmark (`movielens_bench`): 200 test query
#: items per level (the paper's; enough for the rating task's 400 pairs), 20 held-out ones
#: (a small split that tests run in full) and 5 train ones
MOVIELENS_BUILD = {"seed": 0, "n_items": 200, "n_heldout": 20, "max_train": 5}


@pytest.fixture(scope="session")
def movielens_bench(tmp_path_factory) -> Path:
    """ml-latest-small (../shared) built with `MOVIELENS_BUILD`, once per session. Read only:
    its files are made read-only; a test that changes a benchmark copies this one first."""
    import duckdb

    from perrecbench.builder.builder import build_benchmark
    from perrecbench.builder.params import BuildParams
    from perrecbench.data.sources import load_source

    source = shared_path("data", "movielens-latest-small")
    out = tmp_path_factory.mktemp("movielens") / "bench"
    con = duckdb.connect()
    try:
        report = load_source(con, "movielens", [source], None, {})
        build_benchmark(con, BuildParams(**MOVIELENS_BUILD), out, inputs=report.to_dict())
    finally:
        con.close()
    for f in out.rglob("*"):
        if f.is_file():
            f.chmod(0o444)
    return out


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory, monkeypatch):
    """Keep caches and config of every test out of the user's real home."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("PERRECBENCH_HOME", str(home))
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
    yield home
