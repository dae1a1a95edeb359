"""The run directory: a manifest plus one JSON line per answered question.

    RUN_DIR/
      manifest.json        model, method, benchmark fingerprint, split, levels, options
      predictions.jsonl    {"level", "split", "question_id", "status", "order", ...} per line
      calls.jsonl          one line per model call (LLM runs): usage, latency, status

Lines are appended and flushed as each question finishes, so an interrupted run
(Ctrl-C or kill -9) keeps everything already answered; a torn last line is ignored
and cut off when the run resumes.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..bench import bench_fingerprint
from ..errors import BenchmarkError
from ..redaction import redact
from ..types import Prediction

__all__ = ["CALLS", "MANIFEST", "PREDICTIONS", "PredictionRecord", "RunDir", "bench_fingerprint"]

MANIFEST = "manifest.json"
PREDICTIONS = "predictions.jsonl"
CALLS = "calls.jsonl"
FORMAT_VERSION = 1


@dataclass
class PredictionRecord:
    level: str
    split: str
    prediction: Prediction

    def to_json(self) -> str:
        d = {"level": self.level, "split": self.split, **self.prediction.to_dict()}
        if d["failure_detail"]:  # error text may quote a server's answer, and with it a key
            d["failure_detail"] = redact(d["failure_detail"])
        return json.dumps(d, sort_keys=True, ensure_ascii=False)


class RunDir:
    def __init__(self, path: Path | str):
        self.path = Path(path)

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    def exists(self) -> bool:
        return self.manifest_path.exists()

    def read_manifest(self) -> dict[str, Any]:
        if not self.exists():
            raise BenchmarkError(f"{self.path} is not a run directory (no {MANIFEST})")
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise BenchmarkError(f"{self.manifest_path} is not valid JSON: {exc}") from exc

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        manifest = {"format_version": FORMAT_VERSION, "tool_version": __version__, **manifest}
        tmp = self.manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self.manifest_path)

    def open_or_create(self, manifest: dict[str, Any], identity_keys: tuple[str, ...]) -> dict[str, Any]:
        """Create the run, or check that an existing one is the same run and resume it."""
        if self.exists():
            old = self.read_manifest()
            for key in identity_keys:
                if old.get(key) != manifest.get(key):
                    raise BenchmarkError(
                        f"{self.path} already holds a different run ({key}: {old.get(key)!r} "
                        f"vs {manifest.get(key)!r}); choose another --out or delete it"
                    )
            merged = {**old, **manifest, "created": old.get("created", manifest.get("created"))}
            merged["levels"] = sorted(set(old.get("levels", [])) | set(manifest.get("levels", [])))
            self.write_manifest(merged)
            return merged
        manifest = {**manifest, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        self.write_manifest(manifest)
        return manifest

    def read_predictions(self, repair: bool = False) -> list[PredictionRecord]:
        """All complete prediction lines; with `repair`, drop a torn last line from the file."""
        path = self.path / PREDICTIONS
        if not path.exists():
            return []
        raw = path.read_bytes()
        out: list[PredictionRecord] = []
        good_end = 0
        pos = 0
        for line in raw.splitlines(keepends=True):
            pos += len(line)
            if not line.endswith(b"\n"):
                break  # torn write at the end (killed mid-line)
            try:
                d = json.loads(line)
                level, split = d.pop("level"), d.pop("split")
                out.append(PredictionRecord(level, split, Prediction.from_dict(d)))
            except (ValueError, KeyError, TypeError):
                if pos == len(raw):
                    break
                raise BenchmarkError(f"{path}: corrupt line at byte {pos - len(line)}") from None
            good_end = pos
        if repair and good_end < len(raw):
            with open(path, "r+b") as fh:
                fh.truncate(good_end)
        # the last answer for a question wins (a re-try of a failed question appends)
        latest: dict[tuple[str, str], PredictionRecord] = {}
        for rec in out:
            latest[(rec.level, rec.prediction.question_id)] = rec
        return list(latest.values())

    def appender(self, name: str = PREDICTIONS):
        self.path.mkdir(parents=True, exist_ok=True)
        return open(self.path / name, "a", encoding="utf-8", buffering=1)
