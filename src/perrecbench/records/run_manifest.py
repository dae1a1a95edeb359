"""`RUN/manifest.json`: which model answered which questions of which benchmark, and how.

The recommender writes its own `variant` label (profile source, non-default settings),
so scoring never re-derives a model's defaults. `asked` records how many questions of
each level the run was asked (`--limit`), so a deliberately small run is scored on the
questions it was given, not as a model that failed the rest. A rating-prediction run
(method `rating`, level `rating`; see `perrecbench.tasks`) also records the seed of its
pair sample (`rating_seed`), part of its identity; `asked` holds its number of pairs.

A run of a user's or a plugin's class (`--model ./myrec.py:MyRec`) records how the
model was named (`model_spec`) and the sha256 of the class's source file
(`model_source`, part of the identity: a run directory made with another version of
the class is not resumed).

Format versions: 1 (no `variant`, `asked`, `provenance`; prediction lines kept pair
statistics and the like in `extra`), 2 (today; `rating_seed` is an optional field of
version 2, as are `model_spec` and `model_source`: runs without them read as before, and an older reader of a rating run stops
at its unknown level with a clear error).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ConfigDict, Field, model_validator

from .provenance import Provenance
from .versioning import StoredRecord

NAME = "manifest.json"
#: manifest fields that say whether a directory holds the same run (resume) or another
IDENTITY = ("model", "method", "split", "bench_fingerprint", "model_config", "rating_seed", "model_source")
#: config keys renamed since version 1
_RENAMED_CONFIG = {"max_parse_retries": "max_resamples"}


class RunManifest(StoredRecord):
    FORMAT: ClassVar[int] = 2
    KIND: ClassVar[str] = "run manifest"
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True, protected_namespaces=())

    format_version: int = FORMAT
    tool_version: str | None = None
    created: str | None = None
    model: str
    method: str
    split: str = "test"
    bench: str | None = None
    bench_name: str | None = None
    bench_fingerprint: str | None = None
    levels: list[str] = Field(default_factory=list)
    #: questions asked per level: the first n of the level (None: every question)
    asked: dict[str, int] | None = None
    #: the rating task's sample seed (method `rating` only)
    rating_seed: int | None = None
    recommender_config: dict[str, Any] = Field(default_factory=dict, alias="model_config")
    #: a user's or a plugin's class: its `--model` spec and the sha256 of its source file
    model_spec: str | None = None
    model_source: str | None = None
    #: the recommender's own label of its settings ("" for defaults); None in version 1 files
    variant: str | None = None
    imported_from: dict[str, str] | None = None
    provenance: Provenance | None = None

    @model_validator(mode="before")
    @classmethod
    def _migrate(cls, data: Any) -> Any:
        if isinstance(data, dict) and int(data.get("format_version") or 1) < 2:
            config = data.get("model_config")
            if isinstance(config, dict) and any(k in config for k in _RENAMED_CONFIG):
                data = {**data, "model_config": {_RENAMED_CONFIG.get(k, k): v for k, v in config.items()}}
        return data

    def identity(self) -> dict[str, Any]:
        data = self.to_data()
        return {key: data.get(key) for key in IDENTITY}

    def asked_in(self, level: str) -> int | None:
        """How many questions of `level` (from the start) the run was asked; None = all."""
        if self.asked is None:
            return None
        return self.asked.get(level)
