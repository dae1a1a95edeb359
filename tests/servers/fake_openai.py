"""A small OpenAI-compatible chat server for tests and benchmarks, with fault injection.

Answers `POST /v1/chat/completions`, `GET /v1/models`, and (for the Anthropic
provider) `POST /v1/messages` in the Messages API shape. The answer format is read
from the last user message: "predicted_ranking" -> listwise JSON over User1..Usern,
"User A"/"User B" -> pairwise "[User A]"/"[User B]", "predicted_rating" -> pointwise
JSON, other prompts about a rating (the older rating families) -> a bare number.
Answers are deterministic: each user's block of the prompt is hashed and the
user with the larger hash is preferred, so a pair asked in both orders agrees and the
listwise order matches the pairwise one.

Faults (`faults`, a list of rules tried in order on each chat request):
    {"kind": "status", "status": 429, "retry_after": "1", "times": 2}
    {"kind": "status", "status": 401, "echo_auth": true}  # the message quotes the key sent
    {"kind": "slow", "delay": 5.0, "times": 1}        # answer after `delay` seconds
    {"kind": "garbage", "times": 1}                    # 200 with a non-JSON body
    {"kind": "truncated", "times": 1}                  # body cut short, connection closed
    {"kind": "malformed", "first_k": 2}                # per distinct prompt, first k answers unparsable
`times` counts down per matching request (-1 = forever); an optional "match" substring
limits a rule to prompts containing it. Control: `POST /control` with
{"faults": [...], "latency": 0.1, "prose": false, "usage": true, "reset": true};
`GET /stats` returns request counts and a log (time, status, seed, path).

Run alone: `python tests/servers/fake_openai.py --port 0 --latency 0.1` prints the port.
In tests: `with FakeOpenAI(latency=0.0) as srv: srv.url ...`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_USER_N = re.compile(r"\bUser(\d+)\b")
_QUERY_MARKERS = ("## Product", "[Query Item Details]", "Query Item")
_PAIR = re.compile(r"User A\b.*User B\b", re.S)


def _h(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:12], 16)


def _clean(block: str) -> str:
    """A user's block without the label around it, so the same user hashes the same in
    any position (A or B, User1 or User3)."""
    block = re.sub(r"\bUser ?(?:[AB]|\d+)\b", "User", block)
    return re.sub(r"^\W+|\W+$", "", block)


def _split_users(text: str, labels: list[str]) -> list[str]:
    """The text of each labelled user's block, in label order."""
    starts = []
    for lab in labels:
        m = re.search(rf"(?<![A-Za-z0-9]){re.escape(lab)}(?![A-Za-z0-9])", text)
        starts.append(m.end() if m else 0)
    end = len(text)
    for marker in _QUERY_MARKERS:
        pos = text.rfind(marker)
        if pos > max(starts):
            end = min(end, pos)
            break
    blocks = []
    for i, s in enumerate(starts):
        e = end
        if i + 1 < len(labels):
            nxt = re.search(rf"(?<![A-Za-z0-9]){re.escape(labels[i + 1])}(?![A-Za-z0-9])", text)
            e = nxt.start() if nxt else end
        blocks.append(_clean(text[s:e]))
    return blocks


def answer_for(messages: list[dict[str, Any]], prose: bool = False) -> str:
    """A deterministic, well-formed answer for the format the prompt asks for."""
    last = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    last = last if isinstance(last, str) else json.dumps(last)
    system = " ".join(str(m.get("content", "")) for m in messages if m.get("role") == "system")
    cues = system + "\n" + last  # the answer format may be asked in the system prompt
    cot = "think" in last.lower() or "reason" in last.lower()
    if "predicted_ranking" in cues:
        n = max((int(x) for x in _USER_N.findall(last)), default=2)
        n = max(n, 2)
        blocks = _split_users(last, [f"User{i}" for i in range(1, n + 1)])
        order = sorted(range(n), key=lambda i: (-_h(blocks[i]), i))
        ans = json.dumps({"predicted_ranking": [i + 1 for i in order]})
    elif _PAIR.search(last):
        a, b = _split_users(last, ["User A", "User B"])
        ans = "[User A]" if (_h(a), 1) > (_h(b), 0) else "[User B]"
    elif "predicted_rating" in cues:
        (block,) = _split_users(last, ["Customer"]) if "Customer" in last else [_clean(last)]
        if "relative rating" in cues.lower():  # relative-rating prompts: a signed answer
            ans = json.dumps({"predicted_rating": (_h(block) % 9 - 4) / 2})
        else:
            ans = json.dumps({"predicted_rating": 1 + _h(block) % 5})
    elif "x stars, xx%" in last:  # the older rating families answer a bare number (liu: stars, confidence)
        ans = f"({1 + _h(last) % 5} stars, 80%)"
    elif "rating" in last.lower():
        ans = str(1 + _h(last) % 5)
    else:
        ans = "OK"
    if cot:
        ans = "Looking at the ratings each person gave before, I weigh their usual level.\n" + ans
    if prose:
        ans = f"Sure! Here is my answer:\n{ans}\nI hope this helps."
    return ans


class FakeState:
    """Everything the handler threads share; guarded by one lock."""

    def __init__(self, latency: float = 0.0, faults: list[dict[str, Any]] | None = None,
                 prose: bool = False, usage: bool = True, expect_key: str | None = None):
        self.lock = threading.Lock()
        self.latency = latency
        self.faults: list[dict[str, Any]] = [dict(f) for f in faults or []]
        self.prose = prose
        self.usage = usage
        self.expect_key = expect_key
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.by_status: Counter = Counter()
        self.prompt_seen: Counter = Counter()
        self.log: list[dict[str, Any]] = []
        self.max_inflight = 0
        self.inflight = 0

    def configure(self, cfg: dict[str, Any]) -> None:
        with self.lock:
            if cfg.get("reset"):
                self.reset()
            for key in ("latency", "prose", "usage", "expect_key"):
                if key in cfg:
                    setattr(self, key, cfg[key])
            if "faults" in cfg:
                self.faults = [dict(f) for f in cfg["faults"]]

    def pick_fault(self, prompt: str) -> dict[str, Any] | None:
        """The first rule that applies to this request (consuming one of its `times`)."""
        with self.lock:
            self.prompt_seen[_h(prompt)] += 1
            seen = self.prompt_seen[_h(prompt)]
            for rule in self.faults:
                if rule.get("match") and rule["match"] not in prompt:
                    continue
                if rule["kind"] == "malformed":
                    if seen <= int(rule.get("first_k", 1)):
                        return rule
                    continue
                times = int(rule.get("times", 1))
                if times == 0:
                    continue
                if times > 0:
                    rule["times"] = times - 1
                return rule
        return None

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": self.requests,
                "by_status": dict(self.by_status),
                "max_inflight": self.max_inflight,
                "log": list(self.log),
            }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    anthropic = False
    disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms stalls
    wbufsize = 1 << 16
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode("utf-8"), headers)

    def do_GET(self) -> None:
        st = self.server.state
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
        elif self.path.rstrip("/") == "/stats":
            self._json(200, st.snapshot())
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        st = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.rstrip("/") == "/control":
            st.configure(json.loads(raw or b"{}"))
            self._json(200, {"ok": True})
            return
        route = self.path.rstrip("/")
        if route not in ("/v1/chat/completions", "/chat/completions", "/v1/messages"):
            self._json(404, {"error": {"message": f"no route {self.path}"}})
            return
        try:
            body = json.loads(raw)
            messages = list(body["messages"])
        except (ValueError, KeyError, TypeError):
            self._json(400, {"error": {"message": "bad request body"}})
            return
        self.anthropic = route == "/v1/messages"
        if self.anthropic and body.get("system"):
            messages = [{"role": "system", "content": body["system"]}, *messages]
        with st.lock:
            st.requests += 1
            st.inflight += 1
            st.max_inflight = max(st.max_inflight, st.inflight)
        try:
            self._chat(st, body, messages)
        finally:
            with st.lock:
                st.inflight -= 1

    def _chat(self, st: FakeState, body: dict[str, Any], messages: list[dict[str, Any]]) -> None:
        t0 = time.time()
        prompt = json.dumps(messages, sort_keys=True)
        auth = self.headers.get("x-api-key") if self.anthropic else self.headers.get("Authorization")
        entry = {"t": t0, "seed": body.get("seed"), "model": body.get("model"),
                 "prompt": _h(prompt), "request": _h(prompt + str(body.get("seed"))),
                 "response_format": body.get("response_format"), "has_auth": bool(auth),
                 "temperature": body.get("temperature"), "max_tokens": body.get("max_tokens"),
                 "system_param": bool(body.get("system"))}
        expected = st.expect_key if self.anthropic else f"Bearer {st.expect_key}"
        if st.expect_key is not None and auth != expected:
            self._record(st, entry, 401)
            self._json(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})
            return
        if st.latency:
            time.sleep(st.latency)
        fault = st.pick_fault(prompt)
        kind = fault["kind"] if fault else None
        if kind == "status":
            status = int(fault.get("status", 500))
            headers = {"Retry-After": str(fault["retry_after"])} if "retry_after" in fault else {}
            self._record(st, entry, status)
            message = f"injected {status}" + (f" (you sent {auth})" if fault.get("echo_auth") else "")
            self._json(status, {"error": {"message": message, "type": "fake"}}, headers)
            return
        if kind == "slow":
            time.sleep(float(fault.get("delay", 5.0)))
        if kind == "garbage":
            self._record(st, entry, 200, "garbage")
            self._send(200, b"<html>definitely not json", content_type="application/json")
            return
        if kind == "truncated":
            self._record(st, entry, 200, "truncated")
            full = json.dumps(self._completion(body, messages, "x" * 50, st)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(full)))
            self.end_headers()
            self.wfile.write(full[: len(full) // 2])
            self.close_connection = True
            return
        text = "I am not sure about this one." if kind == "malformed" else answer_for(messages, st.prose)
        self._record(st, entry, 200, kind)
        self._json(200, self._completion(body, messages, text, st))

    def _completion(self, body: dict[str, Any], messages: list[dict[str, Any]], text: str,
                    st: FakeState) -> dict[str, Any]:
        chars = sum(len(str(m.get("content", ""))) for m in messages)
        if self.anthropic:
            return {"id": "msg_fake", "type": "message", "role": "assistant",
                    "model": body.get("model", "fake-model"), "content": [{"type": "text", "text": text}],
                    "stop_reason": "end_turn", "stop_sequence": None,
                    "usage": {"input_tokens": chars // 4 + 1, "output_tokens": len(text) // 4 + 1}}
        out: dict[str, Any] = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
        }
        if st.usage:
            out["usage"] = {"prompt_tokens": chars // 4 + 1, "completion_tokens": len(text) // 4 + 1,
                            "total_tokens": chars // 4 + len(text) // 4 + 2}
        return out

    def _record(self, st: FakeState, entry: dict[str, Any], status: int, kind: str | None = None) -> None:
        with st.lock:
            st.by_status[str(status)] += 1
            st.log.append({**entry, "status": status, "fault": kind})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    state: FakeState


class FakeOpenAI:
    """The server in a background thread of this process: `with FakeOpenAI() as srv: ...`."""

    def __init__(self, port: int = 0, **state: Any):
        self.httpd = _Server(("127.0.0.1", port), Handler)
        self.httpd.state = FakeState(**state)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def state(self) -> FakeState:
        return self.httpd.state

    def configure(self, **cfg: Any) -> None:
        self.state.configure(cfg)

    def stats(self) -> dict[str, Any]:
        return self.state.snapshot()

    def start(self) -> FakeOpenAI:
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency", type=float, default=0.0, help="seconds per answer")
    ap.add_argument("--faults", default="[]", help="JSON list of fault rules")
    ap.add_argument("--prose", action="store_true", help="wrap answers in chatty prose")
    ap.add_argument("--no-usage", action="store_true", help="omit token usage (as llama.cpp may)")
    args = ap.parse_args(argv)
    srv = FakeOpenAI(args.port, latency=args.latency, faults=json.loads(args.faults),
                     prose=args.prose, usage=not args.no_usage)
    print(srv.port, flush=True)
    try:
        srv.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.httpd.server_close()


if __name__ == "__main__":
    main(sys.argv[1:])
