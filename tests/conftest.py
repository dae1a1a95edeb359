"""Shared fixtures: the ../shared data folder (required in CI), and a private home for caches."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory, monkeypatch):
    """Keep caches and config of every test out of the user's real home."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("PERRECBENCH_HOME", str(home))
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
    yield home
