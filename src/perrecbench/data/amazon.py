"""Amazon Reviews 2023 (McAuley Lab): review and metadata files -> raw_reviews / raw_items.

Why: this is the benchmark's native source (SPEC 2.1). Files are JSON lines (plain,
.gz) or Parquet, one per category, several at once; Books alone is ~20 GB, so all
row work is DuckDB SQL (see `jsonl` and `stage`).

Mapping: item_id = parent_asin (asin when parent_asin is missing); rating 1..5;
timestamp is already ms. Items: title with HTML entities decoded; author from
`author.name` (or a plain `author` string), else `details.Author`/`details.author`;
category = main_category; description = the `description` list joined by spaces.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from ..errors import InputDataError
from .files import Checksums, data_format, require_files
from .jsonl import json_line_rows, parsed
from .report import ITEMS, REVIEWS, LoadReport
from .stage import (
    ITEM_COLUMNS,
    REVIEW_COLUMNS,
    FieldNames,
    LoadOptions,
    Source,
    empty_items,
    finish_items,
    item_checks,
    ms_from,
    review_checks,
    reviewed_items_without_meta,
    stage,
    time_scale_note,
)

REVIEW_KEYS = ["user_id", "parent_asin", "asin", "rating", "timestamp"]
META_KEYS = ["parent_asin", "asin", "title", "main_category", "author", "details", "description"]
NAMES = FieldNames(user="user_id", item="parent_asin/asin", rating="rating", time="timestamp")
RATING_RANGE = (1.0, 5.0)
OWN_OPTIONS: dict[str, Any] = {"hub_cache": None}  # hub_cache: used by the CLI's --hub-category
STAGED_ITEMS = "_perrecbench_items"


def _reviews(lines: str) -> str:
    paths = "[" + ", ".join(f"'$.{k}'" for k in REVIEW_KEYS) + "]"
    return f"""
    SELECT *, v IS NOT NULL AS _ok, v[1] AS _u, coalesce(nullif(v[2], ''), v[3]) AS _i, v[4] AS _r, v[5] AS _t
    FROM (SELECT *, {parsed(f"json_extract_string(line, {paths})")} AS v FROM ({lines}))"""


def _meta(lines: str) -> str:
    paths = "[" + ", ".join(f"'$.{k}'" for k in META_KEYS) + "]"

    def s(x: str) -> str:  # a JSON scalar as trimmed text, '' -> NULL
        return f"nullif(trim({x} ->> '$'), '')"

    details = """CASE json_type(j[6]) WHEN 'OBJECT' THEN j[6]
                 WHEN 'VARCHAR' THEN CASE WHEN json_valid(j[6] ->> '$') THEN (j[6] ->> '$')::JSON END
                 END"""
    return f"""
    SELECT *, j IS NOT NULL AS _ok,
      coalesce(nullif(j[1] ->> '$', ''), j[2] ->> '$') AS _i,
      j[3] ->> '$' AS _title,
      j[4] ->> '$' AS _category,
      coalesce(
        CASE json_type(j[5]) WHEN 'OBJECT' THEN nullif(trim(j[5] ->> '$.name'), '')
                             WHEN 'VARCHAR' THEN {s('j[5]')} END,
        nullif(trim(_details ->> '$.Author'), ''),
        nullif(trim(_details ->> '$.author'), '')) AS _author,
      CASE json_type(j[7]) WHEN 'ARRAY' THEN array_to_string(from_json(j[7], '["VARCHAR"]'), ' ')
                           WHEN 'VARCHAR' THEN j[7] ->> '$' END AS _description
    FROM (SELECT *, {details} AS _details
          FROM (SELECT *, {parsed(f"json_extract(line, {paths})")} AS j FROM ({lines})))"""


def split_inputs(inputs: list[Path], meta: list[Path] | None) -> tuple[list[Path], list[Path]]:
    """(review files, meta files). A folder contributes its data files; names starting
    with "meta" are metadata (the hub's `meta_<Cat>.jsonl`, the sample's `meta.jsonl`)."""
    reviews: list[Path] = []
    metas: list[Path] = []
    for p in map(Path, inputs):
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and _is_data_file(f))
            if not found:
                raise InputDataError(f"{p}: no .jsonl, .jsonl.gz or .parquet files in this folder")
            for f in found:
                (metas if f.name.lower().startswith("meta") else reviews).append(f)
        else:
            reviews.append(p)
    metas.extend(Path(m) for m in meta or [])
    if not reviews:
        raise InputDataError(f"no review files among {[str(p) for p in inputs]}")
    return require_files(reviews, "review"), require_files(metas, "metadata")


def _is_data_file(f: Path) -> bool:
    name = f.name.lower()
    return data_format(f) in ("jsonl", "parquet") and not name.startswith(".")


def _sources(con: duckdb.DuckDBPyConnection, files: list[Path], keys: list[str], shape) -> list[Source]:
    out = []
    for f in files:
        rows, unit = json_line_rows(con, f, keys)
        out.append(Source(f, shape(rows), unit))
    return out


def load_amazon(
    con: duckdb.DuckDBPyConnection,
    inputs: list[Path],
    meta: list[Path] | None = None,
    options: dict[str, Any] | None = None,
) -> LoadReport:
    """Create raw_reviews and raw_items from Amazon Reviews 2023 files; see the module doc."""
    load, own = LoadOptions.split(options, OWN_OPTIONS)
    reviews, metas = split_inputs(inputs, meta)
    report = LoadReport(source="amazon2023", options={k: v for k, v in own.items() if v is not None})
    lo, hi = RATING_RANGE
    with Checksums(reviews + metas, load.checksum) as sums:
        stage(
            con, "raw_reviews", REVIEW_COLUMNS, _sources(con, reviews, REVIEW_KEYS, _reviews),
            lambda src: review_checks(src.rows, lo, hi, ms_from("_t", "ms"), NAMES),
            report, REVIEWS, sums, load.max_bad_lines,
        )
        time_scale_note(con, report, "ms")
        if metas:
            stage(
                con, STAGED_ITEMS, ITEM_COLUMNS, _sources(con, metas, META_KEYS, _meta),
                lambda src: item_checks(src.rows, "parent_asin"), report, ITEMS, sums, load.max_bad_lines,
                keep_file=True,
            )
            finish_items(con, STAGED_ITEMS, report)
            missing = reviewed_items_without_meta(con)
            report.counts["reviewed_items_without_meta"] = missing
            if missing:
                report.notes.append(f"{missing:,} reviewed items have no metadata row (no title)")
        else:
            empty_items(con)
            report.notes.append("no metadata files given: items will have no titles")
    return report
