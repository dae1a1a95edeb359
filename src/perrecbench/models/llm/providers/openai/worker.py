"""The helper process of `pool`: reads request frames, makes the SDK's raw POST, answers.

Run as `python -m perrecbench.models.llm.providers.openai.worker` by `pool.spawn`; the
frame protocol is described in `pool`. Keys come from the environment this process
inherited, never over the pipe.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from ..... import failures
from ..base import CallError
from .pool import frame, pipe_streams, read_frame


async def _serve() -> None:
    try:
        import openai  # noqa: F401  (the slow part of starting; done before the settings arrive)
    except ImportError:
        return  # the runner's own check names the missing extra
    from .sdk import SdkClients

    reader, writer = await pipe_streams(sys.stdin.buffer, sys.stdout.buffer)
    config = await read_frame(reader)
    if config is None:  # the runner went away before sending settings
        return
    clients = SdkClients(os.environ.get(config["key_env"]) or "EMPTY", config["http"])
    try:
        clients.warm_up(config.get("urls") or [])
    except Exception:  # noqa: BLE001  (e.g. a missing extra: each request then reports it)
        pass
    tasks: set[asyncio.Task] = set()

    async def handle(msg: dict[str, Any]) -> None:
        try:
            text = await clients.post(msg.get("url"), msg["path"], msg["body"], msg.get("timeout"))
            out: dict[str, Any] = {"id": msg["id"], "text": text}
        except CallError as err:
            out = {"id": msg["id"], "error": [err.category, err.detail, err.status, err.retry_after]}
        except Exception as exc:  # never let one request take the worker down
            out = {"id": msg["id"], "error": [failures.CONNECTION.name, f"{type(exc).__name__}: {exc}", None, None]}
        writer.write(frame(out))

    while (msg := await read_frame(reader)) is not None:
        task = asyncio.create_task(handle(msg))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    # input closed: the runner has its answers or stopped waiting (Ctrl-C); nobody reads more
    for task in list(tasks):
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await clients.aclose()


def main() -> None:
    import signal

    # the worker runs in its own session (see `pool.spawn`); should a SIGINT reach it
    # anyway, the runner handles Ctrl-C and closes our input
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    asyncio.run(_serve())


if __name__ == "__main__":
    main()
