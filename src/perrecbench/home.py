"""PerRecBench's own folder for caches, prices and crash reports: `$PERRECBENCH_HOME`,
else ~/.cache/perrecbench."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "PERRECBENCH_HOME"


def home_dir() -> Path:
    env = os.environ.get(HOME_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "perrecbench"
