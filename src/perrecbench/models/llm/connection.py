"""What LLM recommenders with equal connection keys share in one process: the provider
object (its connection and helper processes), the request slots and rate limits, and
the response cache.

A sweep hands every cell's recommender one `ConnectionPool`; each asks the pool for the
connection of its key (`LLMRecommender.connection_key`: the provider's
`ModelAPI.connection_key()` plus where the cache is and how many requests may be in
flight), so cells of one model and server send through one connection, and a cell whose
key differs gets its own -- no cell names another. A recommender on its own has a pool
of its own. A connection is closed when the last recommender holding it lets it go.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any


class Connection:
    """One provider object, its request slots (`limits.Limiter`) and its cache."""

    def __init__(self, api: Any, limiter: Any = None, cache: Any = None) -> None:
        self.api, self.limiter, self.cache = api, limiter, cache
        self.opened = False  # limiter and cache made (the first recommender connected)
        self.holders: set[int] = set()
        self.owner: int | None = None  # the first holder: it reports the shared slots' figures
        self.closed = False

    async def release(self, holder: object) -> None:
        """`holder` is done with it; the last one closes the provider and the cache."""
        self.holders.discard(id(holder))
        if not self.holders and not self.closed:
            self.closed = True
            await self.api.aclose()
            if self.cache is not None:
                self.cache.close()


class ConnectionPool:
    """Connections by key, made on first use."""

    def __init__(self) -> None:
        self._open: dict[Hashable, Connection] = {}

    def provider(self, key: Hashable, api: Any) -> Any:
        """The provider object every holder of `key` sends through (`api` when it is the first)."""
        conn = self._open.get(key)
        if conn is None or conn.closed:
            conn = self._open[key] = Connection(api)
        return conn.api

    def connect(self, key: Hashable, holder: object, api: Any,
                make: Callable[[], tuple[Any, Any]]) -> Connection:
        """The connection of `key`, held by `holder`; `make()` gives its (limiter, cache)
        the first time."""
        self.provider(key, api)
        conn = self._open[key]
        if not conn.opened:
            conn.limiter, conn.cache = make()
            conn.opened = True
        if conn.owner is None:
            conn.owner = id(holder)
        conn.holders.add(id(holder))
        return conn
