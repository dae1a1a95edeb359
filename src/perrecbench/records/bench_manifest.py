"""`BENCH/manifest.json`: how a benchmark was made and what it holds.

Written by the builder (`builder/`) and the release importer (`interop/release`). Its
identity (`fingerprint`) covers everything but `provenance`, so runs, scores and
memoised prompt components stay tied to the benchmark's content, not to the
checkout that built it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ..errors import BenchmarkError
from .provenance import Provenance
from .versioning import StoredRecord, dumps

NAME = "manifest.json"


class BenchCounts(BaseModel):
    """What the benchmark holds. `questions` is {split: {level: n}}; the rest depends on
    the source (builder: rows at each step; release import: skipped entries...)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    questions: dict[str, dict[str, int]] = Field(default_factory=dict)
    raw_reviews: int | None = None
    reviews_after_dedupe: int | None = None
    candidate_raters: int | None = None
    items_with_group: dict[str, int] | None = None
    context_reviews: int | None = None
    items_without_metadata: int | None = None
    items: int | None = None
    profiles: int | None = None
    skipped: dict[str, int] | None = None
    users_with_synthesized_timestamps: int | None = None
    history_len_mismatches: int | None = None

    def test_questions(self, level: str) -> int:
        return self.questions.get("test", {}).get(level, 0)


class BenchManifest(StoredRecord):
    """The benchmark's parameters, inputs (with checksums), counts and provenance."""

    FORMAT: ClassVar[int] = 1
    KIND: ClassVar[str] = "benchmark manifest"
    model_config = ConfigDict(extra="allow", frozen=True)

    format_version: int = FORMAT
    name: str = ""
    kind: str = "perrecbench"
    source: str | None = None  # set by importers ("authors-release"); builds name it in `inputs`
    tool_version: str | None = None
    categories: list[str] | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    inputs: dict[str, Any] = Field(default_factory=dict)
    counts: BenchCounts = Field(default_factory=BenchCounts)
    files: dict[str, str] | None = None
    #: the first bad entries of each input file (release import; a build's are in `inputs`)
    bad_lines: list[str] | None = None
    provenance: Provenance | None = None

    @classmethod
    def check_kind(cls, data: dict[str, Any], path: Path | str) -> None:
        """A run directory given as a benchmark: its manifest names a model and a method."""
        if "model" in data and "method" in data:
            bench = data.get("bench")
            raise BenchmarkError(
                f"{Path(path).parent} is a run directory ({data['model']}, method {data['method']}), not a "
                "benchmark directory; give the benchmark it ran on" + (f" ({bench})" if bench else ""))

    @property
    def source_name(self) -> str | None:
        """Where the data came from: an importer's `source`, or the builder's input source."""
        return self.source or (str(self.inputs["source"]) if "source" in self.inputs else None)

    def to_data(self) -> dict[str, Any]:
        """The fields the source gave (and only those: a manifest reads back byte for byte),
        and always `format_version` (a file without one is read as version 1)."""
        data = self.model_dump(mode="json", exclude_unset=True)
        data["format_version"] = self.format_version
        if "counts" in data:
            data["counts"] = self.counts.model_dump(mode="json", exclude_unset=True)
        return data


def fingerprint_of(data: bytes) -> str:
    """The benchmark identity from its manifest's bytes: sha256 of the manifest without
    its provenance (a manifest without one -- every file of earlier versions -- is hashed
    as it is, so old runs keep matching their benchmark)."""
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and "provenance" in parsed:
        parsed.pop("provenance")
        data = dumps(parsed).encode("utf-8")
    return "sha256:" + hashlib.sha256(data).hexdigest()[:16]


def fingerprint(bench_dir: Path | str) -> str:
    return fingerprint_of((Path(bench_dir) / NAME).read_bytes())
