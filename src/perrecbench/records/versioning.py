"""Format versions of stored records, and reading JSON files into typed records.

A record class says which version it writes (`FORMAT`); files of an older version are
read (and migrated where a field moved), files of a newer one are refused with both
versions named, so an old perrecbench never silently misreads a newer file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import BenchmarkError, validation_message

R = TypeVar("R", bound="StoredRecord")


def check_version(path: Path | str, found: Any, supported: int, what: str) -> int:
    """The file's version as an int; BenchmarkError when it is newer than `supported`."""
    try:
        version = int(found if found is not None else 1)
    except (TypeError, ValueError):
        raise BenchmarkError(f"{path}: format_version {found!r} is not a number") from None
    if version > supported:
        raise BenchmarkError(
            f"{path} is a {what} of format version {version}; this perrecbench reads versions up to "
            f"{supported}: upgrade perrecbench (pip install -U perrecbench; in a clone: git pull)"
        )
    return version


def dumps(data: dict[str, Any]) -> str:
    """How every manifest is written: sorted keys, two-space indent, UTF-8, final newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


class StoredRecord(BaseModel):
    """A record stored as one JSON file with a `format_version`."""

    FORMAT: ClassVar[int] = 1
    KIND: ClassVar[str] = "record"

    @classmethod
    def check_kind(cls, data: dict[str, Any], path: Path | str) -> None:
        """Refuse a file that is another record's (before its version is compared: another
        record's newer version would otherwise read as "upgrade perrecbench")."""

    @classmethod
    def from_data(cls: type[R], data: Any, path: Path | str = "<memory>") -> R:
        if not isinstance(data, dict):
            raise BenchmarkError(f"{path}: expected a JSON object for a {cls.KIND}")
        cls.check_kind(data, path)
        version = check_version(path, data.get("format_version"), cls.FORMAT, cls.KIND)
        try:
            return cls.model_validate({**data, "format_version": version})
        except ValidationError as exc:
            raise BenchmarkError(f"{path}: not a valid {cls.KIND} ({validation_message(exc)})") from None

    @classmethod
    def read(cls: type[R], path: Path | str) -> R:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BenchmarkError(f"{path}: file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise BenchmarkError(f"{path}: cannot read ({exc})") from exc
        except ValueError as exc:
            raise BenchmarkError(f"{path} is not valid JSON: {exc}") from exc
        return cls.from_data(data, path)

    def to_data(self) -> dict[str, Any]:
        """JSON-ready values; fields left at None are not written."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def write(self, path: Path | str) -> None:
        """Write atomically (a reader never sees half a file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(dumps(self.to_data()), encoding="utf-8")
        os.replace(tmp, path)
