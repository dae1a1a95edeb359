"""A real headless Chromium driven over the DevTools protocol, for testing pages from disk.

Chromium is started with `--remote-debugging-pipe`: the protocol runs over two pipes
(fd 3 into the browser, fd 4 out of it, NUL-terminated JSON messages), so no port is
opened and no client library is needed. `open_page` loads one file in a fresh tab and
records, for that tab only, every request (`Network.requestWillBeSent`), every failed
load, every console message, log entry and uncaught exception, then takes a screenshot
and can evaluate expressions in the page. The browser process itself phones home
(component updates, time queries) whatever the flags say; those requests belong to no
tab and are not the page's doing, which is why requests are taken per tab.

Debian: `apt-get install -y chromium`. `chromium_binary()` finds it; a test without it
fails in CI (CI=true) and skips elsewhere, like the tests that need ../shared.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio")  # fmt: skip


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    msg = "headless Chromium not found (Debian: apt-get install -y chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg)
    pytest.skip(msg)


@dataclass
class PageVisit:
    url: str
    requests: list[str] = field(default_factory=list)  # URLs the tab asked for
    failed: list[dict[str, Any]] = field(default_factory=list)  # Network.loadingFailed
    console: list[dict[str, Any]] = field(default_factory=list)  # Runtime.consoleAPICalled
    log: list[dict[str, Any]] = field(default_factory=list)  # Log.entryAdded
    exceptions: list[dict[str, Any]] = field(default_factory=list)  # Runtime.exceptionThrown
    screenshot: bytes = b""
    values: dict[str, Any] = field(default_factory=dict)  # expression -> its value

    @property
    def errors(self) -> list[str]:
        """Everything the page logged at warning level or worse, and every exception."""
        out = [f"console.{c['type']}: {c.get('args')}" for c in self.console
               if c.get("type") in ("error", "warning", "assert")]
        out += [f"log {e['entry']['level']}: {e['entry'].get('text')}" for e in self.log
                if e["entry"].get("level") in ("error", "warning")]
        out += [f"exception: {e['exceptionDetails'].get('text')}" for e in self.exceptions]
        return out


class Chromium:
    """One browser process; `with Chromium() as browser: browser.open_page(path)`."""

    def __init__(self, width: int = 1280, height: int = 900, timeout: float = 30.0):
        self.width, self.height, self.timeout = width, height, timeout
        self._profile = tempfile.mkdtemp(prefix="perrecbench-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def child_fds() -> None:  # the protocol's fixed descriptors: 3 = in, 4 = out
            a, b = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [chromium_binary(), *FLAGS, f"--user-data-dir={self._profile}", "--remote-debugging-pipe",
             "about:blank"],
            pass_fds=(3, 4), preexec_fn=child_fds, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buf = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    # --- protocol ------------------------------------------------------------------------

    def _send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> int:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        return self._next_id

    def _read_until(self, done, timeout: float | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            while b"\0" in self._buf:
                raw, self._buf = self._buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "method" in msg:
                    self._events.append(msg)
                if done(msg):
                    return msg
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._from_browser], [], [], min(left, 0.2))
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"Chromium exited: {self._stderr_tail()}")
                self._buf += chunk

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        mid = self._send(method, params, session)
        msg = self._read_until(lambda m: m.get("id") == mid)
        if "error" in msg:
            raise RuntimeError(f"{method}: {msg['error']}")
        return msg.get("result", {})

    def _stderr_tail(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        return self.proc.stderr.read().decode("utf-8", "replace")[-2000:]

    # --- pages -----------------------------------------------------------------------------

    def open_page(self, path: Path | str, expressions: tuple[str, ...] = (), settle: float = 0.3,
                  full_page: bool = False) -> PageVisit:
        """Load `path` in a new tab, wait for its load event (and `settle` seconds more for
        late requests), screenshot it and evaluate `expressions` (JSON-able values)."""
        url = Path(path).resolve().as_uri()
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=session)
        self.call("Emulation.setDeviceMetricsOverride", {"width": self.width, "height": self.height,
                  "deviceScaleFactor": 1, "mobile": False}, session=session)
        start = len(self._events)
        self.call("Page.navigate", {"url": url}, session=session)
        self._read_until(lambda m: m.get("method") == "Page.loadEventFired" and m.get("sessionId") == session)
        end = time.monotonic() + settle
        while time.monotonic() < end:  # let anything the page starts late show itself
            try:
                self._read_until(lambda m: False, timeout=max(0.01, end - time.monotonic()))
            except TimeoutError:
                break
        visit = PageVisit(url)
        shot = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": full_page},
                         session=session)
        visit.screenshot = base64.b64decode(shot["data"])
        for expr in expressions:
            res = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session=session)
            if "exceptionDetails" in res:
                raise RuntimeError(f"{expr}: {res['exceptionDetails']}")
            visit.values[expr] = res["result"].get("value")
        for ev in self._events[start:]:
            if ev.get("sessionId") != session:
                continue
            method, params = ev["method"], ev.get("params", {})
            if method == "Network.requestWillBeSent":
                visit.requests.append(params["request"]["url"])
            elif method == "Network.webSocketCreated":
                visit.requests.append(params["url"])
            elif method == "Network.loadingFailed":
                visit.failed.append(params)
            elif method == "Runtime.consoleAPICalled":
                visit.console.append(params)
            elif method == "Log.entryAdded":
                visit.log.append(params)
            elif method == "Runtime.exceptionThrown":
                visit.exceptions.append(params)
        self.call("Target.closeTarget", {"targetId": target})
        return visit

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self._send("Browser.close")
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired, RuntimeError, TimeoutError):
                self.proc.kill()
                self.proc.wait(10)
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
