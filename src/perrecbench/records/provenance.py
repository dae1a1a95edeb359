"""Where a file came from: package and dependency versions, and the git revision.

Written into manifests (as inspect_ai's eval logs do) so that a number can be traced
to the code that made it. Never part of a fingerprint: two checkouts that build the
same benchmark must agree on its identity.
"""

from __future__ import annotations

import functools
import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from pydantic import BaseModel, ConfigDict

#: dependencies whose versions can change results (those installed are recorded)
KEY_PACKAGES = (
    "duckdb", "pyarrow", "numpy", "scipy", "pydantic", "openai", "anthropic", "aiohttp", "httpx",
    "torch", "transformers", "trl", "peft", "datasets", "accelerate", "matplotlib", "rank-bm25",
)


class Provenance(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    perrecbench: str
    python: str
    platform: str
    packages: dict[str, str] = {}
    git_revision: str | None = None
    git_dirty: bool | None = None


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _git(repo: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def git_state(package_dir: Path) -> tuple[str | None, bool | None]:
    """(revision, dirty) when the package runs from a git checkout (src/ layout), else (None, None)."""
    repo = package_dir.parent.parent
    if not (repo / ".git").exists():
        return None, None
    rev = _git(repo, "rev-parse", "HEAD")
    if rev is None:
        return None, None
    status = _git(repo, "status", "--porcelain", "--untracked-files=no")
    return rev.strip(), None if status is None else bool(status.strip())


@functools.lru_cache(maxsize=1)
def current() -> Provenance:
    """This process's provenance (computed once)."""
    from ..constants import __version__

    rev, dirty = git_state(Path(__file__).resolve().parents[1])
    packages = {name: v for name in KEY_PACKAGES if (v := _version(name)) is not None}
    return Provenance(
        perrecbench=__version__, python=sys.version.split()[0],
        platform=f"{platform.system()}-{platform.machine()}", packages=packages,
        git_revision=rev, git_dirty=dirty,
    )
