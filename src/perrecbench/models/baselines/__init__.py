"""Classic (non-LLM) baselines, one per module: `create_baseline(name, options)`.

random  chance level, reproducible per question
oracle  the truth (sanity check: tau = 1)
bias    mu + b_u + b_i rating predictor: good MAE/RMSE, about zero tau
content TF-IDF similarity of the query item to the user's history
cf      item-kNN collaborative filtering (adjusted cosine)
"""

from __future__ import annotations

from typing import Any

from ...errors import ConfigError
from ..base import Recommender, ScoreRecommender
from .bias import BiasBaseline
from .cf import ItemKnnBaseline
from .content import ContentBaseline
from .oracle import OracleBaseline
from .random_order import RandomBaseline

BASELINES: dict[str, type[ScoreRecommender]] = {
    "random": RandomBaseline,
    "oracle": OracleBaseline,
    "bias": BiasBaseline,
    "content": ContentBaseline,
    "cf": ItemKnnBaseline,
}


def create_baseline(name: str, options: dict[str, Any] | None = None) -> ScoreRecommender:
    """The baseline called `name` (without the `baseline/` prefix) with its options."""
    cls = BASELINES.get(name)
    if cls is None:
        raise ConfigError(f"unknown baseline {name!r}; valid: {', '.join(sorted(BASELINES))}")
    return cls(options)


def sees_truth(model: Recommender) -> bool:
    """Whether the runner hands `model` the truth of the split it evaluates: only the
    built-in oracle does (its sanity check is tau = 1). Recognised by its exact class --
    not a subclass, a flag or an attribute a user's class could set -- so any other model
    that reads a member's rating fails clearly (`types.PublicMember`)."""
    return type(model) is OracleBaseline


__all__ = ["BASELINES", "create_baseline", "sees_truth"]
