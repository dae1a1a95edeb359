"""PerRecBench: rank a group of users by how much each *personally* likes one item.

The pipeline mirrors the package layout: data -> build -> run -> score -> report -> train.
The package root is the public façade, above every stage: stages import the vocabulary
from `perrecbench.constants`, never the root. The Python API (`open_benchmark`,
`evaluate`, `score_runs`, `Recommender`, `ScoreRecommender`, `Question`, `Prediction`)
lives in `perrecbench.api` and is imported from here on first use, so that
`import perrecbench` stays light.
"""

from __future__ import annotations

from typing import Any

from .constants import GROUP_SIZE, LEVELS, METHODS, RATING, SPLITS, __version__

#: the public API, imported on first use (PEP 562)
_API = ("open_benchmark", "evaluate", "score_runs", "Recommender", "ScoreRecommender", "Question", "Prediction")
__all__ = ["GROUP_SIZE", "LEVELS", "METHODS", "RATING", "SPLITS", "__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        # on first use, so that `import perrecbench` (and every command of the CLI, which
        # imports a submodule and so runs this file) stays light; no stage imports the root
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
