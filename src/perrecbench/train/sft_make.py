"""`perrecbench sft-data` as one call: a benchmark split -> SFT rows on disk, with the
manifest that says how they were made (`run`'s prompt settings, the benchmark's
fingerprint), so the command only binds its flags and prints the counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..bench import Benchmark
from ..constants import __version__
from ..errors import ConfigError
from ..records import SftManifest
from .prompting import RunPrompts
from .sft_data import DATASET_SPLIT, build_rows, trainable_questions
from .sft_files import write_sft


def make_sft_data(bench: Path, fmt: str, out: Path, split: str = "train", levels: list[str] | None = None,
                  limit: int | None = None, seed: int = 0, dataset_split: str | None = None,
                  overwrite: bool = False, options: dict[str, Any] | None = None) -> tuple[SftManifest, int]:
    """Write the rows of `fmt` for `split` into `out`; `options` are `run`'s prompt options.
    Returns the manifest written and the number of questions the rows came from."""
    options = dict(options or {})
    if options.get("cot"):
        raise ConfigError("--cot: SFT answers carry no reasoning; build the data without it")
    b = Benchmark(bench)
    questions = trainable_questions(b, split, levels, limit)
    render = RunPrompts(b, split, options)
    data = build_rows(questions, fmt, render, render.options.rel_rating, seed)
    manifest = SftManifest(
        format=fmt, split=split, seed=seed, limit=limit, prompt=render.config(), options=options,
        bench=str(b.path.resolve()), bench_name=b.name, bench_fingerprint=b.fingerprint, tool_version=__version__,
    )
    written = write_sft(out, data, dataset_split or DATASET_SPLIT[split], manifest, overwrite)
    return written, sum(data.questions.values())
