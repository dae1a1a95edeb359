"""Concurrent requests -> batches for an in-process model, run in one worker thread.

The runner sends requests one coroutine at a time (up to `--max-concurrency` in flight);
a local model is fastest when it generates for many prompts at once. `MicroBatcher`
collects requests that arrive within `wait_s` of each other (up to `batch_size`, only
requests with the same decoding settings together) and hands each batch to
`run_batch` in a single worker thread, so the event loop keeps accepting requests
while the model works, and the model is never used by two threads at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Pending:
    request: Any
    key: Hashable  # requests of one batch share this (decoding settings)
    future: asyncio.Future = field(repr=False)


class MicroBatcher:
    """`await submit(request, key)` -> what `run_batch` returned for that request.

    `run_batch(requests) -> results` (one per request, in order) runs in the worker
    thread; an exception it raises is raised to every request of the batch."""

    def __init__(self, run_batch: Callable[[list[Any]], Sequence[Any]], batch_size: int = 8, wait_s: float = 0.005):
        self.run_batch = run_batch
        self.batch_size = batch_size
        self.wait_s = wait_s
        self.batches: list[int] = []  # sizes of the batches run (for tests and stats)
        self._queue: list[Pending] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hf-generate")

    async def submit(self, request: Any, key: Hashable = None) -> Any:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._queue.append(Pending(request, key, fut))
        if self._wake is None:
            self._wake = asyncio.Event()
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._serve())
        return await fut

    def _take(self) -> list[Pending]:
        """The next batch: the oldest live request and those after it with the same key."""
        self._queue = [p for p in self._queue if not p.future.done()]  # timed-out callers are gone
        if not self._queue:
            return []
        key = self._queue[0].key
        batch = [p for p in self._queue if p.key == key][: self.batch_size]
        taken = {id(p) for p in batch}
        self._queue = [p for p in self._queue if id(p) not in taken]
        return batch

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        wake = self._wake
        assert wake is not None  # made by submit, which starts this task
        while True:
            if not self._queue:
                wake.clear()
                try:
                    await asyncio.wait_for(wake.wait(), timeout=1.0)
                except asyncio.TimeoutError:
                    if not self._queue:
                        return  # idle: the next submit starts a new server task
                    continue
            if len(self._queue) < self.batch_size and self.wait_s > 0:
                await asyncio.sleep(self.wait_s)  # let the requests of this moment arrive
            batch = self._take()
            if not batch:
                continue
            self.batches.append(len(batch))
            try:
                results = await loop.run_in_executor(self._pool, self.run_batch, [p.request for p in batch])
            except Exception as exc:  # the whole batch failed: each caller gets the error
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(exc)
                continue
            for p, r in zip(batch, results, strict=True):
                if not p.future.done():
                    p.future.set_result(r)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None
        for p in self._queue:
            if not p.future.done():
                p.future.cancel()
        self._queue.clear()
        self._pool.shutdown(wait=True)
