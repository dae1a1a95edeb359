"""Persistent response cache: SQLite in WAL mode, safe for several processes at once.

A key is `v1:` + sha256 of the canonical JSON (sorted keys, no whitespace) of the
request's identity: backend, endpoint, model, messages, the output-affecting options
and the sample index -- never an API key. Only successful responses are stored, as the
raw JSON body plus the extracted text, so a parser fix re-reads answers without calls.

The same file memoises prompt parts (`prompt_parts`): each question's retrieved
history and query item, per benchmark fingerprint and retrieval settings. They do not
depend on the model, so every later run on that benchmark -- another model, a cached
re-run, a re-parse -- skips BM25 retrieval and loading the benchmark's reviews.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from ...errors import ConfigError

KEY_VERSION = "v1"
HOME_ENV = "PERRECBENCH_HOME"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    created REAL NOT NULL,
    response TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS prompt_parts (
    ns TEXT NOT NULL,
    qid TEXT NOT NULL,
    parts TEXT NOT NULL,
    PRIMARY KEY (ns, qid)
)
"""


def home_dir() -> Path:
    """`$PERRECBENCH_HOME`, else ~/.cache/perrecbench."""
    env = os.environ.get(HOME_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "perrecbench"


def default_cache_path() -> Path:
    return home_dir() / "cache.sqlite"


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def cache_key(
    backend: str,
    endpoint: str,
    model: str,
    messages: list[dict[str, str]],
    options: dict[str, Any],
    sample_index: int,
) -> str:
    """The cache key of one request. `options` are output-affecting options only."""
    ident = {
        "backend": backend,
        "base_url": endpoint,
        "model": model,
        "messages": messages,
        "options": options,
        "sample_index": sample_index,
    }
    return f"{KEY_VERSION}:" + hashlib.sha256(canonical_json(ident).encode("utf-8")).hexdigest()


class ResponseCache:
    """Key -> stored response (a JSON object). Writers in other processes wait, not fail."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path else default_cache_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=60.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=60000")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the response cache {self.path}: {exc}") from exc
        self._pending: dict[str, tuple[str, str, str, float, str]] = {}
        self._pending_parts: list[tuple[str, str, str]] = []

    def get(self, key: str) -> dict[str, Any] | None:
        pending = self._pending.get(key)
        if pending is not None:
            return json.loads(pending[4])
        row = self._db.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            return json.loads(row[0])
        except ValueError:
            return None  # a damaged entry is a miss; the next success overwrites it

    def put(self, key: str, backend: str, model: str, response: dict[str, Any], defer: bool = False) -> None:
        """Store one response; `defer` holds it (visible to `get`) until `flush`, so that many
        answers share one transaction -- a killed process loses only those not flushed."""
        self._pending[key] = (key, backend, model, time.time(), json.dumps(response, ensure_ascii=False))
        if not defer:
            self.flush()

    def prompt_parts(self, ns: str) -> dict[str, str]:
        """Every memoised question (id -> JSON) of one namespace (benchmark + settings)."""
        rows = self._db.execute("SELECT qid, parts FROM prompt_parts WHERE ns = ?", (ns,)).fetchall()
        return dict(rows) | {qid: parts for n, qid, parts in self._pending_parts if n == ns}

    def put_prompt_parts(self, ns: str, qid: str, parts: str) -> None:
        """Memoise one question's parts; written with the next `flush`."""
        self._pending_parts.append((ns, qid, parts))

    @property
    def pending(self) -> int:
        return len(self._pending) + len(self._pending_parts)

    def flush(self) -> None:
        """Commit every deferred row in one transaction (all or nothing on disk)."""
        if not self._pending and not self._pending_parts:
            return
        rows = list(self._pending.values())
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany(
                "INSERT OR REPLACE INTO responses (key, backend, model, created, response) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            self._db.executemany("INSERT OR REPLACE INTO prompt_parts (ns, qid, parts) VALUES (?, ?, ?)",
                                 self._pending_parts)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        self._pending.clear()
        self._pending_parts.clear()

    def stats(self) -> dict[str, Any]:
        self.flush()
        rows = self._db.execute(
            "SELECT backend || '/' || model, COUNT(*), SUM(LENGTH(response)) FROM responses GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        parts = self._db.execute("SELECT COUNT(*) FROM prompt_parts").fetchone()[0]
        return {
            "path": str(self.path),
            "entries": sum(r[1] for r in rows),
            "prompt_parts": parts,
            "bytes_on_disk": size,
            "models": {r[0]: {"entries": r[1], "bytes": r[2] or 0} for r in rows},
        }

    def clear(self, model: str | None = None) -> int:
        """Delete every response (and the memoised prompt parts), or the responses of one
        `backend/model`; returns how many responses."""
        self.flush()
        if model is None:
            self._db.execute("DELETE FROM prompt_parts")
            cur = self._db.execute("DELETE FROM responses")
        else:
            cur = self._db.execute("DELETE FROM responses WHERE backend || '/' || model = ?", (model,))
        n = cur.rowcount
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        if model is None:
            self._db.execute("VACUUM")
        return n

    def close(self) -> None:
        self.flush()
        self._db.close()
