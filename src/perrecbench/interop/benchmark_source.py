"""`perrecbench build --source`: a data source the builder reads (`data.sources`), or the
authors' release, which is imported as released rather than built again."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..data.sources import SOURCES as DATA_SOURCES
from ..errors import ConfigError

if TYPE_CHECKING:  # the importer reads DuckDB and Arrow: loaded when a release is imported
    from .release import ReleaseImportReport

RELEASE = "release"
SOURCES = (*DATA_SOURCES, RELEASE)


def check_source(source: str) -> None:
    """An unknown `--source` is an error naming those there are."""
    if source not in SOURCES:
        raise ConfigError(f"unknown --source {source!r}; choose from {', '.join(SOURCES)}")


def import_release_input(inputs: list[Path], out: Path) -> ReleaseImportReport:
    """`--source release`: its one `--input` is the release's data folder."""
    from .release import import_release

    if len(inputs) != 1:
        raise ConfigError("--source release takes one --input: the release's data folder")
    return import_release(inputs[0], out)
