"""The package root is the public façade above every stage: no module of the package
imports it (they import `perrecbench.constants`), so the root may import any stage."""

from __future__ import annotations

import ast
from pathlib import Path

import perrecbench

SRC = Path(perrecbench.__file__).parent


def _imports_of_root(path: Path) -> list[str]:
    """`from <dots> import NAME` lines of `path` that reach the package root and name
    something other than a submodule (that is, read the root's own namespace)."""
    depth = len(path.relative_to(SRC).parts) - 1
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            to_root = (node.level == depth + 1 and node.module is None) or (
                node.level == 0 and node.module == "perrecbench")
            if not to_root:
                continue
            for alias in node.names:
                if not (SRC / alias.name).is_dir() and not (SRC / f"{alias.name}.py").is_file():
                    found.append(f"{path.relative_to(SRC)}:{node.lineno}: {alias.name}")
    return found


def test_no_module_of_the_package_reads_the_root():
    bad = [hit for path in sorted(SRC.rglob("*.py")) if path.name != "__init__.py" or path.parent != SRC
           for hit in _imports_of_root(path)]
    assert bad == []


def test_the_root_offers_the_vocabulary_and_the_api():
    from perrecbench import constants

    assert (perrecbench.LEVELS, perrecbench.METHODS, perrecbench.__version__) == (
        constants.LEVELS, constants.METHODS, constants.__version__)
    assert perrecbench.evaluate.__module__ == "perrecbench.api"
    assert perrecbench.ScoreRecommender.__name__ == "ScoreRecommender"
