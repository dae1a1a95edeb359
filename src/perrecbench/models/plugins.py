"""Models from outside the package: a class in a file or module (`./myrec.py:MyRec`,
`mypkg.myrec:MyRec`) and installed plugins (entry points of the group `perrecbench.models`).

This module only finds and imports objects; `registry` decides what they are. A plugin
is imported when it is named (or listed by `perrecbench models`), never at start-up.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import sys
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from ..errors import ConfigError

#: the entry point group a distribution declares its models in: `NAME = "module:Object"`
GROUP = "perrecbench.models"

_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def is_object_spec(spec: str) -> bool:
    """True for `path.py:Name` and `dotted.module:Name` (no `/` before the colon in the
    latter); everything else is a `prefix/name` model name (`openai/llama3.1:8b`)."""
    head, sep, name = spec.rpartition(":")
    if not sep or not _DOTTED.match(name):
        return False
    return head.endswith(".py") or ("/" not in head and bool(_DOTTED.match(head)))


def load_object(spec: str) -> Any:
    """The object a `path.py:Name` or `module:Name` spec names; any failure is a ConfigError."""
    head, _, name = spec.rpartition(":")
    module = _load_file(head) if head.endswith(".py") else _load_module(head)
    obj: Any = module
    for part in name.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"{spec}: {head} has no {name!r}")
        obj = getattr(obj, part)
    return obj


#: files imported so far: (path, mtime, size) -> module, so that naming a file twice in
#: one process gives the same class (and an edited file is imported again)
_FILES: dict[tuple[str, int, int], Any] = {}


def _load_file(path_text: str) -> Any:
    path = Path(path_text).expanduser().resolve()
    if not path.is_file():
        raise ConfigError(f"no such file {path_text!r} (a --model PATH.py:Class names a Python file)")
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _FILES:
        _FILES[key] = _exec_file(path_text, path)
    return _FILES[key]


def _exec_file(path_text: str, path: Path) -> Any:
    digest = hashlib.sha256(str(path).encode("utf-8")).hexdigest()[:12]
    mod_name = f"perrecbench_user_{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}_{digest}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{path_text}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module  # dataclasses and pickling look their module up here
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(mod_name, None)
        raise ConfigError(f"{path_text}: importing it failed: {type(exc).__name__}: {exc}") from None
    return module


def _load_module(name: str) -> Any:
    """Import `name`; the working directory is searched too (after everything else), so a
    module beside the command works as it does for `python -m`."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise ConfigError(f"no module named {exc.name!r} (a --model module:Class names an importable "
                              "module; is it installed, or on PYTHONPATH?)") from None
        raise ConfigError(f"{name}: importing it failed: {type(exc).__name__}: {exc}") from None
    except Exception as exc:
        raise ConfigError(f"{name}: importing it failed: {type(exc).__name__}: {exc}") from None


def installed() -> list[EntryPoint]:
    """Every installed plugin's entry point (nothing imported), by name, first of a name once."""
    seen: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        seen.setdefault(ep.name, ep)
    return [seen[n] for n in sorted(seen)]


def find(name: str) -> EntryPoint | None:
    return next((ep for ep in installed() if ep.name == name), None)


def distribution(ep: EntryPoint) -> str:
    """`dist version` of the distribution that declares `ep` (for messages)."""
    dist = getattr(ep, "dist", None)
    return f"{dist.metadata['Name']} {dist.version}" if dist is not None else "an installed distribution"


def load(ep: EntryPoint) -> Any:
    try:
        return ep.load()
    except Exception as exc:
        raise ConfigError(f"plugin {ep.name} ({ep.value}, from {distribution(ep)}) failed to load: "
                          f"{type(exc).__name__}: {exc}") from None
