"""The OpenAI SDK's HTTP work in helper processes, so it does not share the runner's core
(the runner's side: `WorkerPool`; the helper's side: `worker`).

With many requests in flight against a fast server, the runner is CPU-bound and about
half of its time goes to the SDK's HTTP stack (building requests, connection pools,
parsing responses). `WorkerPool` moves exactly that part into child processes: the
runner keeps prompts, cache, limits, retries and logs, and sends each request body
over a pipe; a worker makes the SDK's raw `post` and sends back the body text or the
classified error. Keys are never sent: a worker reads them from the environment it
inherits, as the runner would.

A worker imports the SDK (about a second) as soon as it starts, before it knows its
settings: the pool starts its workers when the run is checked, so that import runs
while the runner loads the benchmark.

Frames are a 4-byte big-endian length plus UTF-8 JSON. The first one sets the worker up:
    -> {"http": "aiohttp", "key_env": "OPENAI_API_KEY", "urls": ["http://host/v1"]}
then each request and its answer:
    -> {"id": 7, "url": "http://host/v1" | null, "path": "/chat/completions", "body": {...}, "timeout": 120}
    <- {"id": 7, "text": "<response body>"}
    <- {"id": 7, "error": [category, detail, http_status | null, retry_after | null]}
A worker exits when its input closes (the runner finished or died).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

from ..... import failures
from ..base import CallError

WORKER_MODULE = "perrecbench.models.llm.providers.openai.worker"

_HEADER = 4


def frame(obj: Any) -> bytes:
    data = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return len(data).to_bytes(_HEADER, "big") + data


async def read_frame(reader: asyncio.StreamReader) -> Any:
    """The next message, or None at the end of the stream."""
    try:
        size = int.from_bytes(await reader.readexactly(_HEADER), "big")
        return json.loads(await reader.readexactly(size))
    except asyncio.IncompleteReadError:
        return None


def spawn() -> subprocess.Popen:
    """A new worker process; it waits for its settings frame. In its own session, so a
    Ctrl-C at the terminal reaches only the runner, which stops it; if the runner dies,
    the worker's input closes and it exits."""
    return subprocess.Popen([sys.executable, "-m", WORKER_MODULE], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, close_fds=True, start_new_session=True)


async def pipe_streams(read_from: Any, write_to: Any) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Asyncio streams over two pipe ends (a child's stdout/stdin, or our own stdin/stdout)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), read_from)
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, write_to)
    return reader, asyncio.StreamWriter(transport, protocol, None, loop)


class _Worker:
    """One child process and the requests it has in flight."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen = spawn()
        self.futures: dict[int, asyncio.Future] = {}
        self.writer: asyncio.StreamWriter | None = None
        self.reader_task: asyncio.Task | None = None

    def configure(self, http: str, key_env: str, urls: list[str | None]) -> None:
        """Send the settings frame now (a few bytes: the pipe takes them without
        blocking), so the worker builds its clients while it would otherwise wait."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(frame({"http": http, "key_env": key_env, "urls": urls}))
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # it died already: `alive` says so, and the pool starts another

    @property
    def alive(self) -> bool:
        """The process runs; once connected, that is: we still read its answers (its
        output closes when it dies), which costs no system call per request."""
        if self.reader_task is None:
            return self.proc.poll() is None
        return not self.reader_task.done()

    async def connect(self) -> None:
        reader, self.writer = await pipe_streams(self.proc.stdout, self.proc.stdin)
        self.reader_task = asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while (msg := await read_frame(reader)) is not None:
                fut = self.futures.pop(msg.get("id"), None)
                if fut is None or fut.done():
                    continue
                if "error" in msg:
                    category, detail, status, retry_after = msg["error"]
                    fut.set_exception(CallError(failures.lookup(category), detail, status, retry_after))
                else:
                    fut.set_result(msg["text"])
        finally:  # the worker died: its requests fail as connection errors (the client retries)
            for fut in self.futures.values():
                if not fut.done():
                    fut.set_exception(CallError(failures.CONNECTION, "the HTTP worker process stopped"))
            self.futures.clear()

    async def close(self) -> None:
        """Stop the process at once: it holds no state (every answer it sent is already
        here, and nobody waits for the others), so there is nothing to wait for."""
        if self.writer is not None:
            self.writer.close()
        elif self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.kill()
        self.proc.wait()
        if self.reader_task is not None:
            await asyncio.gather(self.reader_task, return_exceptions=True)


class WorkerPool:
    """`n` worker processes; each request goes to the one with the fewest in flight.
    `urls` are the base URLs the requests will use (None: the SDK's default), whose
    clients a worker builds before the first request."""

    def __init__(self, n: int, http: str, key_env: str, urls: list[str | None] | None = None):
        self.n, self.http, self.key_env = n, http, key_env
        self.urls = list(urls or [])
        self._workers: list[_Worker] = []
        self._next_id = 0
        self._lock: asyncio.Lock | None = None

    def _spawn(self) -> _Worker:
        w = _Worker()
        w.configure(self.http, self.key_env, self.urls)
        return w

    def start(self) -> None:
        """Start (or adopt) the processes now, so they import the SDK while the runner
        loads the benchmark; their pipes are wired to the event loop at the first request."""
        while len(self._workers) < self.n:
            self._workers.append(self._spawn())

    async def _ready(self) -> list[_Worker]:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # start (or restart) workers once, not once per waiting request
            self.start()
            for i, worker in enumerate(self._workers):
                if not worker.alive:
                    await worker.close()
                    worker = self._workers[i] = self._spawn()
                if worker.writer is None:
                    await worker.connect()
        return self._workers

    async def post(self, url: str | None, path: str, body: dict[str, Any], timeout: float | None) -> str:
        workers = self._workers
        if len(workers) != self.n or not all(w.writer is not None and w.alive for w in workers):
            workers = await self._ready()
        worker = min(workers, key=lambda w: len(w.futures))
        if not worker.alive:  # it died while we were connecting: nobody would ever answer
            raise CallError(failures.CONNECTION, "the HTTP worker process stopped")
        self._next_id += 1
        rid = self._next_id
        fut = asyncio.get_running_loop().create_future()
        worker.futures[rid] = fut
        assert worker.writer is not None
        try:
            worker.writer.write(frame({"id": rid, "url": url, "path": path, "body": body, "timeout": timeout}))
            return await fut
        except (ConnectionError, RuntimeError) as exc:
            raise CallError(failures.CONNECTION, f"cannot reach the HTTP worker process: {exc}") from None
        finally:
            worker.futures.pop(rid, None)

    async def aclose(self) -> None:
        for w in self._workers:
            await w.close()
        self._workers = []
