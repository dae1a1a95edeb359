"""PerRecBench: rank a group of users by how much each *personally* likes one item.

The pipeline mirrors the package layout: data -> build -> run -> score -> report -> train.
The Python API (`open_benchmark`, `evaluate`, `score_runs`, `Recommender`,
`ScoreRecommender`, `Question`, `Prediction`) lives in `perrecbench.api` and is
imported from here on first use, so `import perrecbench` stays light.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
LEVELS = ("easy", "medium", "hard")
GROUP_SIZE = {"easy": 2, "medium": 3, "hard": 4}
METHODS = ("point", "pair", "list")
#: the classic task the paper argues against: predict one user's absolute 1-5 rating of one
#: item. A fourth method, asked on one-member questions of a level of its own (`tasks`).
RATING = "rating"
SPLITS = ("test", "heldout", "train")

#: the public API, imported on first use (PEP 562)
_API = ("open_benchmark", "evaluate", "score_runs", "Recommender", "ScoreRecommender", "Question", "Prediction")
__all__ = ["GROUP_SIZE", "LEVELS", "METHODS", "RATING", "SPLITS", "__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        # by name, not `from . import api`: the root is imported by every stage (for the
        # constants above), and a static import would make each of them reach the API
        import importlib

        return getattr(importlib.import_module(".api", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
