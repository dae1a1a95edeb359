"""Memoised prompt `Components` of a benchmark's questions, kept in the response cache file.

A question's Components (its members' BM25-retrieved histories and the query item) depend
only on the benchmark and the retrieval settings, not on the model. Runs store them
under a namespace of exactly those (`prompts.retrieval.components_namespace`), so any
later run -- another model, a re-run, a dry run -- reads them instead of loading the
benchmark's reviews and retrieving again.
"""

from __future__ import annotations

import json
from typing import Protocol

from ...prompts.components import Components
from ...types import Question

#: memoised rows held back at most before they are written by themselves
MAX_PENDING = 256


class ComponentsStore(Protocol):
    """Where memoised Components live (`cache.ResponseCache`)."""

    def components(self, ns: str) -> dict[str, str]: ...

    def put_components(self, ns: str, qid: str, text: str) -> None: ...

    @property
    def pending(self) -> int: ...

    def flush(self) -> None: ...


class ComponentsMemo:
    """One namespace of the store, loaded once."""

    def __init__(self, store: ComponentsStore, namespace: str):
        self.store, self.namespace = store, namespace
        self._rows = store.components(namespace)

    def __len__(self) -> int:
        return len(self._rows)

    @staticmethod
    def key(q: Question) -> str:
        return f"{q.level}/{q.id}"

    def get(self, q: Question) -> Components | None:
        """The memoised Components of `q`, or None (a damaged row is a miss)."""
        raw = self._rows.get(self.key(q))
        if raw is None:
            return None
        try:
            comps = Components.from_dict(json.loads(raw))
        except (ValueError, KeyError, TypeError):
            return None
        return comps if len(comps.users) == q.n else None

    def put(self, q: Question, comps: Components) -> None:
        text = json.dumps(comps.to_dict(), ensure_ascii=False, separators=(",", ":"))
        self._rows[self.key(q)] = text
        self.store.put_components(self.namespace, self.key(q), text)
        if self.store.pending >= MAX_PENDING:
            self.store.flush()
