"""`SFT_DIR/sft_manifest.json`: how fine-tuning rows were made (`perrecbench sft-data`).

The benchmark fingerprint ties the rows to the benchmark their questions came from;
`prompt` holds the settings that decide the prompts (a model evaluated with other
settings sees other prompts than it was trained on).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ConfigDict, Field

from .provenance import Provenance
from .versioning import StoredRecord

NAME = "sft_manifest.json"


class SftManifest(StoredRecord):
    FORMAT: ClassVar[int] = 1
    KIND: ClassVar[str] = "SFT data manifest"
    model_config = ConfigDict(frozen=True, extra="forbid")

    format_version: int = FORMAT
    kind: str = "sft-data"
    format: str  # point, pair, group or mix
    split: str  # the benchmark split the questions came from
    seed: int = 0
    limit: int | None = None
    prompt: dict[str, Any] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    bench: str
    bench_name: str
    bench_fingerprint: str
    tool_version: str | None = None
    dataset_split: str = "train_sft"
    rows: int = 0
    counts: dict[str, dict[str, int]] = Field(default_factory=dict)  # rows per format and level
    questions: dict[str, int] = Field(default_factory=dict)  # questions per level
    files: dict[str, str] = Field(default_factory=dict)
    provenance: Provenance | None = None
