"""--memory-limit: sizes as DuckDB reads them, and DuckDB's share of the bound."""

from __future__ import annotations

import pytest

from perrecbench.build.memory import DUCKDB_FLOOR, GB, MB, duckdb_share, parse_size
from perrecbench.errors import ConfigError


def test_parse_size():
    assert parse_size("2GB") == 2 * GB
    assert parse_size("1.5 GiB") == int(1.5 * 2**30)
    assert parse_size("500mb") == 500 * MB
    for bad in ("", "2", "lots", "2 gigs", "0MB", "-1GB"):
        with pytest.raises(ConfigError, match="memory limit"):
            parse_size(bad)


def test_duckdb_gets_less_than_the_whole_bound_but_never_less_than_it_needs():
    for limit in (256 * MB, GB, 2 * GB, 16 * GB):
        share = duckdb_share(limit)
        assert DUCKDB_FLOOR <= share < limit
        assert limit - share <= 512 * MB
    assert duckdb_share(8 * MB) == DUCKDB_FLOOR  # a tiny bound: the floor
