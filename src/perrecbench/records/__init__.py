"""Typed, versioned records that cross stage boundaries, one home each.

| record | file | written by | read by |
|---|---|---|---|
| `BenchManifest` | `BENCH/manifest.json` | build, interop | every later stage |
| `RunManifest` | `RUN/manifest.json` | run, interop | run (resume), score, report |
| `Prediction` / `PredictionLine` | `RUN/predictions.jsonl` | models (via run) | score |
| `CallRecord` | `RUN/calls.jsonl` | the LLM client (via run) | score (costs), report |
| `ScoreRow`, `ComparisonRow` | `score --format json` (a list), report data | score | report, users |
| `SftManifest` | `SFT_DIR/sft_manifest.json` | train (`sft-data`) | people, tools |
| `CorrelationReport`, `BreakdownTable` (`analysis`) | `correlate`/`breakdown --out` | score | report, users |
| `SweepManifest` / `SweepTable` (`sweep`) | `SWEEP/sweep.json`, `sweep-table.json` | run / score | score / report |

Each file-level record carries a `format_version`; a reader meets a newer one with a
clear error naming the file and both versions (`versioning.check_version`). Line
records (predictions, calls) are versioned by their directory's `RunManifest`.
"""

from .bench_manifest import BenchCounts, BenchManifest
from .call import CallRecord, CallUsage
from .prediction import PairStats, Prediction, PredictionLine
from .provenance import Provenance
from .run_manifest import RunManifest
from .score_row import AverageRow, ComparisonRow, ScoreRow
from .sft_manifest import SftManifest

__all__ = [
    "AverageRow", "BenchCounts", "BenchManifest", "CallRecord", "CallUsage", "ComparisonRow",
    "PairStats", "Prediction", "PredictionLine", "Provenance", "RunManifest", "ScoreRow",
    "SftManifest",
]
