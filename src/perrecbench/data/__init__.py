"""Data sources: raw files -> `raw_reviews` / `raw_items` tables in DuckDB, plus a LoadReport.

Start at `sources.load_source`; each format has its own module (amazon, movielens,
table, synthetic) and all share the checked SQL load in `stage` (the authors' release
layout is read by `interop.release`).
"""
