"""Components as users hand them in (`perrecbench render`): one JSON document, or JSON
Lines, read into `Components` with one-line errors naming the file and line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ..errors import InputDataError
from .components import Components

#: file names that say JSON Lines, whatever the number of lines
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")


def read_components(text: str, source: str, lines_hint: bool = False) -> tuple[list[Components], bool]:
    """One JSON document, or JSON Lines when the file is named so (`lines_hint`; then
    even one line is JSON Lines) or there are several lines and the first is complete
    JSON by itself. Returns (components, is_json_lines)."""
    lines = [(i, ln) for i, ln in enumerate(text.splitlines(), 1) if ln.strip()]
    if not lines:
        raise InputDataError(f"{source}: no components (empty input)")
    if lines_hint or (len(lines) > 1 and _is_json(lines[0][1])):
        return [_components(_loads(ln, source, i), source, i) for i, ln in lines], True
    return [_components(_loads(text, source, None), source, None)], False


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def _loads(text: str, source: str, lineno: int | None) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = lineno if lineno is not None else exc.lineno
        raise InputDataError(f"{source}:{where}: not valid JSON ({exc.msg}, column {exc.colno})") from exc


def _components(obj: Any, source: str, lineno: int | None) -> Components:
    where = f"{source}:{lineno}" if lineno is not None else source
    if not isinstance(obj, dict):
        raise InputDataError(f"{where}: expected a JSON object with \"users\" and \"query\"")
    try:
        return Components.from_dict(obj)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputDataError(
            f"{where}: not a components object ({type(exc).__name__}: {exc}); expected "
            '{"users": [{"history": [{"title", "author", "rating"}], ...}], "query": {"title"}}'
        ) from exc


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputDataError(f"cannot read {path}: {exc}") from exc


def load_components(where: str) -> tuple[list[Components], bool]:
    """The components in file `where` ("-" = stdin); JSON Lines by its name (.jsonl,
    .ndjson) or by its lines. Returns (components, is_json_lines)."""
    source = "<stdin>" if where == "-" else where
    text = sys.stdin.read() if where == "-" else _read(Path(where))
    return read_components(text, source, lines_hint=Path(source).suffix.lower() in JSON_LINES_SUFFIXES)
