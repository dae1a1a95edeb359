"""Persistent response cache: SQLite in WAL mode, safe for several processes at once.

A key is `v1:` + sha256 of the canonical JSON (sorted keys, no whitespace) of the
request's identity: backend, endpoint, model, messages, the output-affecting options
and the sample index -- never an API key. Only successful responses are stored, as the
raw JSON body plus the extracted text, so a parser fix re-reads answers without calls.

The same file memoises each question's prompt `Components` (table `components`): its
members' retrieved histories and the query item, per benchmark fingerprint and
retrieval settings (see `components_memo`). They do not depend on the model, so every
later run on that benchmark -- another model, a cached re-run, a re-parse -- skips BM25
retrieval and loading the benchmark's reviews.

The schema is versioned with SQLite's `user_version` and migrated in numbered steps.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from ...home import home_dir

KEY_VERSION = "v1"
#: schema migrations, in order: step k brings a file from user_version k to k + 1
MIGRATIONS = (
    """CREATE TABLE IF NOT EXISTS responses (
           key TEXT PRIMARY KEY, backend TEXT NOT NULL, model TEXT NOT NULL,
           created REAL NOT NULL, response TEXT NOT NULL);
       CREATE TABLE IF NOT EXISTS prompt_parts (
           ns TEXT NOT NULL, qid TEXT NOT NULL, parts TEXT NOT NULL, PRIMARY KEY (ns, qid))""",
    # one name for one concept: a question's prompt Components
    "ALTER TABLE prompt_parts RENAME TO components; ALTER TABLE components RENAME COLUMN parts TO components",
)


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
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the response cache {self.path}: {exc}") from exc
        self._pending_components: list[tuple[str, str, str]] = []

    def _migrate(self) -> None:
        """Bring the file to the current schema; each step in its own transaction, and a
        second process opening the file at the same time waits for the first."""
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version == 0 and self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'prompt_parts'").fetchone():
            version = 1  # a file from before versioning: step 0's tables exist already
        while version < len(MIGRATIONS):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                now = self._db.execute("PRAGMA user_version").fetchone()[0]
                if now <= version:  # nobody migrated it meanwhile
                    for statement in MIGRATIONS[version].split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {version + 1}")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            return json.loads(row[0])
        except ValueError:
            return None  # a damaged entry is a miss; the next success overwrites it

    def put(self, key: str, backend: str, model: str, response: dict[str, Any]) -> None:
        """Store one response, committed at once: an answer that was paid for survives a kill -9."""
        self._db.execute(
            "INSERT OR REPLACE INTO responses (key, backend, model, created, response) VALUES (?, ?, ?, ?, ?)",
            (key, backend, model, time.time(), json.dumps(response, ensure_ascii=False)),
        )

    def components(self, ns: str) -> dict[str, str]:
        """Every memoised question (id -> Components JSON) of one namespace (benchmark + settings)."""
        rows = self._db.execute("SELECT qid, components FROM components WHERE ns = ?", (ns,)).fetchall()
        return dict(rows) | {qid: text for n, qid, text in self._pending_components if n == ns}

    def put_components(self, ns: str, qid: str, text: str) -> None:
        """Memoise one question's Components; written with the next `flush` (they can be
        computed again, so a batch lost to a kill costs only retrieval time)."""
        self._pending_components.append((ns, qid, text))

    @property
    def pending(self) -> int:
        return len(self._pending_components)

    def flush(self) -> None:
        """Commit the memoised Components held back, in one transaction."""
        if not self._pending_components:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT OR REPLACE INTO components (ns, qid, components) VALUES (?, ?, ?)",
                                 self._pending_components)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        self._pending_components.clear()

    def stats(self) -> dict[str, Any]:
        self.flush()
        rows = self._db.execute(
            "SELECT backend || '/' || model, COUNT(*), SUM(LENGTH(response)) FROM responses GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        memo = self._db.execute("SELECT COUNT(*) FROM components").fetchone()[0]
        return {
            "path": str(self.path),
            "entries": sum(r[1] for r in rows),
            "components": memo,
            "bytes_on_disk": size,
            "models": {r[0]: {"entries": r[1], "bytes": r[2] or 0} for r in rows},
        }

    def clear(self, model: str | None = None) -> int:
        """Delete every response (and the memoised Components), or the responses of one
        `backend/model`; returns how many responses."""
        self.flush()
        if model is None:
            self._db.execute("DELETE FROM components")
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
