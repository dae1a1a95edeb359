"""SFT data on disk: JSON Lines, a `datasets` DatasetDict (the release's layout), a manifest.

`OUT/dataset_dict.json` + `OUT/<split>/` is what `datasets.load_from_disk(OUT)` reads
(split `train_sft` for train questions, `test_sft` for held-out ones);
`OUT/<split>.jsonl` holds the same rows for any other tool, and
`OUT/sft_manifest.json` says how they were made. `load_chats` reads any of these
forms back for training.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..builder.staging import staged_directory
from ..errors import ConfigError, InputDataError, install_hint
from ..records import SftManifest, provenance
from ..records.sft_manifest import NAME as MANIFEST
from .sft_data import SFTData

DATASET_DICT = "dataset_dict.json"


def _datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise ConfigError(f"SFT datasets need the train extra: {install_hint('train')}") from None
    return datasets


def write_sft(out: Path, data: SFTData, split_name: str, manifest: SftManifest,
              overwrite: bool = False) -> SftManifest:
    """Write the rows three ways into `out` (built beside it, then moved into place, so a
    failure never leaves half a dataset); returns the manifest written."""
    datasets = _datasets()
    datasets.disable_progress_bars()
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise ConfigError(f"{out} exists and is not empty; pass --overwrite to replace it")
        if not (out / MANIFEST).exists():
            raise ConfigError(f"{out} is not an SFT data directory (no {MANIFEST}); refusing to replace it")
    if not data.rows:
        raise InputDataError("no SFT rows: the split has no questions for these levels")
    rows = [r.to_dict() for r in data.rows]
    with staged_directory(out, replaceable=lambda path: (path / MANIFEST).exists()) as tmp:
        datasets.DatasetDict({split_name: datasets.Dataset.from_list(rows)}).save_to_disk(str(tmp))
        with open(tmp / f"{split_name}.jsonl", "w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        manifest = manifest.model_copy(update={
            "dataset_split": split_name, "rows": len(rows), "counts": data.counts(),
            "questions": dict(sorted(data.questions.items())),
            "files": {"jsonl": f"{split_name}.jsonl", "datasets": DATASET_DICT},
            "provenance": provenance.current(),
        })
        manifest.write(tmp / MANIFEST)
    return manifest


def load_chats(path: Path | str, split: str | None = None) -> list[list[dict[str, str]]]:
    """The `messages` of every row of an SFT dataset: a directory saved by `datasets`
    (DatasetDict: `split`, default the only or `train_sft` split; or a Dataset), or a
    JSON Lines file. A malformed line is an error naming the line."""
    path = Path(path)
    if not path.exists():
        raise InputDataError(f"dataset {path} not found")
    if path.is_file():
        return _jsonl_chats(path)
    datasets = _datasets()
    try:
        ds = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as exc:
        raise InputDataError(f"{path}: not a saved dataset ({exc})") from None
    if isinstance(ds, datasets.DatasetDict):
        names = list(ds)
        name = split or ("train_sft" if "train_sft" in names else names[0] if len(names) == 1 else None)
        if name not in ds:
            raise ConfigError(f"{path}: choose a split with split=... from {', '.join(names)}")
        ds = ds[name]
    if "messages" not in ds.column_names:
        raise InputDataError(f"{path}: rows have no 'messages' column (columns: {', '.join(ds.column_names)})")
    return [list(m) for m in ds["messages"]]


def _jsonl_chats(path: Path) -> list[list[dict[str, str]]]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                out.append(list(row["messages"]))
            except (ValueError, KeyError, TypeError):
                raise InputDataError(f"{path}:{n}: not a JSON object with 'messages'") from None
    if not out:
        raise InputDataError(f"{path}: no rows")
    return out
