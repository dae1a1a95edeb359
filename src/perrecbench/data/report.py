"""What a source read, kept and skipped: the `LoadReport` that goes into the manifest.

Why: a benchmark built from 20 GB of raw reviews is only trustworthy when the reader
says exactly which files it used (checksums), how many rows it dropped and why, and
where the first bad lines are, so a user can look at them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# skip reasons, as counted in reports and manifests -> words for people
REASONS: dict[str, str] = {
    "blank_line": "blank line",
    "malformed_json": "malformed JSON",
    "malformed_row": "malformed row",
    "missing_field": "missing field",
    "bad_rating": "bad rating",
    "bad_timestamp": "bad timestamp",
    "future_timestamp": "timestamp after 2100",
    "duplicate_item": "duplicate item id",
    "duplicate_member": "user twice in one group",  # release groups (import-release)
    "small_group": "group with fewer than 2 members",
}

REVIEWS = "reviews"
ITEMS = "items"


@dataclass
class FileStats:
    """One input file: its identity and what came out of it."""

    path: str
    role: str  # REVIEWS or ITEMS
    sha256: str | None = None  # "sha256:<hex>", None when checksums were turned off
    size_bytes: int = 0
    rows_read: int = 0
    rows_kept: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def rows_skipped(self) -> int:
        return sum(self.skipped.values())


@dataclass
class LoadReport:
    """Totals per role (reviews, items), per-file details, and the first bad lines.

    `bad_lines` entries read `file:line: reason` (`file:row N: reason` for Parquet).
    `counts` holds further facts a source knows (duplicate items, reviewed items
    without metadata...), `notes` anything a user should read.
    """

    source: str
    files: list[FileStats] = field(default_factory=list)
    rows_read: int = 0
    rows_kept: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    items_read: int = 0
    items_kept: int = 0
    items_skipped: dict[str, int] = field(default_factory=dict)
    bad_lines: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_skipped(self) -> int:
        return sum(self.skipped.values())

    @property
    def items_skipped_total(self) -> int:
        return sum(self.items_skipped.values())

    def add_file(self, stats: FileStats) -> None:
        """Record one file and add its rows to the totals of its role."""
        self.files.append(stats)
        if stats.role == ITEMS:
            self.items_read += stats.rows_read
            self.items_kept += stats.rows_kept
            _merge(self.items_skipped, stats.skipped)
        else:
            self.rows_read += stats.rows_read
            self.rows_kept += stats.rows_kept
            _merge(self.skipped, stats.skipped)

    def summary(self) -> str:
        """A few lines for the terminal."""
        lines = [
            f"{self.source}: {self.rows_read:,} review rows read, {self.rows_kept:,} kept, "
            f"{self.rows_skipped:,} skipped"
            + (f"; {self.items_read:,} item rows read, {self.items_kept:,} kept" if self.items_read else "")
            + (f" ({len(self.files)} file{'s' if len(self.files) != 1 else ''})" if self.files else "")
        ]
        for label, skipped in (("reviews skipped", self.skipped), ("items skipped", self.items_skipped)):
            if any(skipped.values()):
                lines.append(f"  {label}: {reason_counts(skipped)}")
        if self.bad_lines:
            lines.append("  first bad lines:")
            lines.extend(f"    {b}" for b in self.bad_lines)
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the benchmark manifest."""
        d = asdict(self)
        d["rows_skipped"] = self.rows_skipped
        d["items_skipped_total"] = self.items_skipped_total
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LoadReport:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        known["files"] = [FileStats(**f) for f in d.get("files", [])]
        return cls(**known)

    @classmethod
    def for_synthetic(cls, options: dict[str, Any], n_reviews: int, n_items: int) -> LoadReport:
        """A generated source reads no files: everything it makes is kept."""
        return cls(
            source="synthetic", rows_read=n_reviews, rows_kept=n_reviews,
            items_read=n_items, items_kept=n_items, options=dict(options),
        )


def reason_counts(skipped: dict[str, int]) -> str:
    """'bad rating 3, missing field 1': counts per skip reason, in words, by reason."""
    return ", ".join(f"{REASONS.get(k, k)} {v:,}" for k, v in sorted(skipped.items()) if v)


def _merge(into: dict[str, int], add: dict[str, int]) -> None:
    for k, v in add.items():
        into[k] = into.get(k, 0) + v
