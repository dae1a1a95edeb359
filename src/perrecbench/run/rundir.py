"""The run directory: a manifest plus one JSON line per answered question.

    RUN_DIR/
      manifest.json        `records.RunManifest`: model, method, benchmark fingerprint, split,
                           levels, questions asked, the recommender's config and variant
      predictions.jsonl    one `records.PredictionLine` per answer
      calls.jsonl          one `records.CallRecord` per model call (LLM runs; see calllog)

Lines are appended as each question finishes, so an interrupted run (Ctrl-C or kill -9)
keeps everything already answered; a torn last line is ignored and cut off when the
run resumes. The last line for a question wins (a re-asked question appends).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from ..constants import __version__
from ..errors import BenchmarkError
from ..records import CallRecord, PredictionLine, RunManifest, provenance
from ..records.run_manifest import IDENTITY
from ..records.run_manifest import NAME as MANIFEST
from ..records.versioning import check_version

PREDICTIONS = "predictions.jsonl"
CALLS = "calls.jsonl"  # the call log (the metric "calls/question" is `costs.CALLS_PER_QUESTION`)

__all__ = ["CALLS", "MANIFEST", "PREDICTIONS", "RunDir"]


class RunDir:
    """Reads and writes one run directory; every other module goes through it."""

    def __init__(self, path: Path | str):
        self.path = Path(path)

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def predictions_path(self) -> Path:
        return self.path / PREDICTIONS

    @property
    def calls_path(self) -> Path:
        return self.path / CALLS

    def exists(self) -> bool:
        return self.manifest_path.exists()

    # -- manifest ------------------------------------------------------------------------

    def read_manifest(self) -> RunManifest:
        if not self.exists():
            raise BenchmarkError(f"{self.path} is not a run directory (no {MANIFEST})")
        return RunManifest.read(self.manifest_path)

    def write_manifest(self, manifest: RunManifest) -> None:
        manifest.write(self.manifest_path)

    def open_or_create(self, manifest: RunManifest, identity: tuple[str, ...] = IDENTITY) -> RunManifest:
        """Create the run, or check that an existing one is the same run and resume it:
        levels and questions asked are the union of both, `created` stays."""
        update: dict[str, Any] = {"tool_version": __version__, "provenance": provenance.current()}
        if self.exists():
            old = self.read_manifest()
            mine, theirs = manifest.identity(), old.identity()
            for key in identity:
                if theirs.get(key) != mine.get(key):
                    if key == "model_source":
                        raise BenchmarkError(
                            f"{self.path} was made with another version of {old.model_spec or old.model} "
                            f"(its source file's sha256 was {str(theirs.get(key))[:12]}, it is now "
                            f"{str(mine.get(key))[:12]}); answers of the two would mix: choose another "
                            "--out or delete it"
                        )
                    raise BenchmarkError(
                        f"{self.path} already holds a different run ({key}: {theirs.get(key)!r} "
                        f"vs {mine.get(key)!r}); choose another --out or delete it"
                    )
            update["created"] = old.created or manifest.created
            update["levels"] = sorted(set(old.levels) | set(manifest.levels))
            update["asked"] = _merge_asked(old.asked, manifest.asked, old.format_version)
            if old.imported_from or manifest.imported_from:
                update["imported_from"] = {**(old.imported_from or {}), **(manifest.imported_from or {})}
        else:
            self._refuse_orphans()
            update["created"] = manifest.created or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        merged = manifest.model_copy(update=update)
        self.write_manifest(merged)
        return merged

    def _refuse_orphans(self) -> None:
        """Answers without a manifest belong to an unknown model and method: never adopt them."""
        path = self.predictions_path
        if path.exists() and path.stat().st_size > 0:
            raise BenchmarkError(
                f"{path} holds predictions but {self.manifest_path.name} is missing, so which model and method "
                "they belong to is unknown; move the file away or choose another --out"
            )

    # -- predictions ---------------------------------------------------------------------

    def read_predictions(self, repair: bool = False) -> list[PredictionLine]:
        """The latest complete line per (level, question); with `repair`, cut a torn last line."""
        path = self.predictions_path
        if not path.exists():
            return []
        if self.exists():
            check_version(path, self.read_manifest().format_version, RunManifest.FORMAT, "run directory")
        raw = path.read_bytes()
        latest: dict[tuple[str, str], PredictionLine] = {}
        good_end = pos = 0
        for line in raw.splitlines(keepends=True):
            pos += len(line)
            if not line.endswith(b"\n"):
                break  # torn write at the end (killed mid-line)
            try:
                rec = PredictionLine.from_json(line)
            except (ValueError, KeyError, TypeError):
                if pos == len(raw):
                    break
                raise BenchmarkError(f"{path}: corrupt line at byte {pos - len(line)}") from None
            latest[(rec.level, rec.prediction.question_id)] = rec
            good_end = pos
        if repair and good_end < len(raw):
            with open(path, "r+b") as fh:
                fh.truncate(good_end)
        return list(latest.values())

    def appender(self) -> IO[str]:
        """predictions.jsonl opened for appending lines (the runner batches its writes)."""
        self.path.mkdir(parents=True, exist_ok=True)
        return open(self.predictions_path, "a", encoding="utf-8")

    def replace_predictions(self, keep: Iterable[PredictionLine]) -> None:
        """Rewrite predictions.jsonl atomically with exactly these lines."""
        tmp = self.path / (PREDICTIONS + ".tmp")
        tmp.write_text("".join(r.to_json() + "\n" for r in keep), encoding="utf-8")
        os.replace(tmp, self.predictions_path)

    # -- calls ---------------------------------------------------------------------------

    def read_calls(self) -> Iterator[CallRecord]:
        """Every readable call line (a torn or foreign line is skipped)."""
        if not self.calls_path.exists():
            return
        with open(self.calls_path, encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    yield CallRecord.from_json(line)
                except ValueError:
                    continue


def _merge_asked(old: dict[str, int] | None, new: dict[str, int] | None, old_version: int) -> dict[str, int] | None:
    """Questions asked per level, over every invocation (each asks a prefix of the level)."""
    if old_version < 2 or old is None or new is None:
        return None  # a run that once asked every question keeps doing so
    return {lv: max(old.get(lv, 0), new.get(lv, 0)) for lv in sorted(set(old) | set(new))}
