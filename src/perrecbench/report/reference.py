"""The paper's published table (SPEC 7), shipped as package data for side-by-side reports.

The published numbers come from the released evaluator: Kendall tau between id lists
("official-v1"), with failed groups dropped, rounded to two decimals. The authors have
since corrected their evaluator ("official-v2": tau between per-user rank vectors) and
ask that taus computed with the old one be recomputed; the published table was not.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources

from ..constants import LEVELS, METHODS
from ..errors import InputDataError

RESOURCE = "paper_table.csv"
NOTE = ("published: released evaluator (id-list tau, failed groups dropped), 2 decimals; computed with the "
        "uncorrected evaluator, which the authors ask to recompute (official-v2 is their correction)")


@dataclass(frozen=True)
class ReferenceRow:
    """One model of the published table: tau per (level, method) and the paper's Avg."""

    model: str
    cells: dict[tuple[str, str], float]
    avg: float


def parse_reference(text: str, source: str = RESOURCE) -> list[ReferenceRow]:
    """Parse the table CSV: model, {level}_{method} x 9, avg."""
    reader = csv.DictReader(io.StringIO(text))
    needed = ["model", *(f"{lv}_{m}" for lv in LEVELS for m in METHODS), "avg"]
    missing = [c for c in needed if c not in (reader.fieldnames or [])]
    if missing:
        raise InputDataError(f"{source}: missing columns {missing}")
    rows = []
    for lineno, rec in enumerate(reader, 2):
        try:
            cells = {(lv, m): float(rec[f"{lv}_{m}"]) for lv in LEVELS for m in METHODS}
            rows.append(ReferenceRow(rec["model"], cells, float(rec["avg"])))
        except (TypeError, ValueError) as exc:
            raise InputDataError(f"{source}:{lineno}: bad number ({exc})") from exc
    return rows


def load_reference() -> list[ReferenceRow]:
    """The published 19-model table bundled with the package."""
    text = (
        resources.files("perrecbench").joinpath("resources", RESOURCE).read_text(encoding="utf-8")
    )
    return parse_reference(text)


def method_means(rows: list[ReferenceRow]) -> dict[str, float]:
    """Mean over models and levels per method (SPEC 7: point 0.070, pair 0.128, list 0.118)."""
    return {
        m: sum(r.cells[(lv, m)] for r in rows for lv in LEVELS) / (len(rows) * len(LEVELS))
        for m in METHODS
    }
