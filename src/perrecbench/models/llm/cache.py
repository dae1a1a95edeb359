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

Damage and a full disk are never fatal, and never lose a paid answer silently:

* a read that fails is a miss; a file SQLite reports as damaged (`malformed`, `not a
  database`) is copied aside (`cache.sqlite.damaged-<time>`) and rebuilt in place from
  its readable rows, under an exclusive lock file (`cache.sqlite.lock`) that writers of
  every process hold shared. Rebuilding goes through SQLite (the backup API), so other
  processes that have the file open simply see the new contents; only a file whose
  header is gone is replaced, and the others re-open it when they see it changed;
* a write that fails for lack of space (`database or disk is full`, or the `disk I/O
  error` SQLite gives when a file size limit is reached) keeps the response in memory
  and sets `failed`: the client then sends no more requests, and the run stops with one
  line naming the device (`errors.StorageFull`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from ...errors import ConfigError, StorageFull, storage_full
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


T = TypeVar("T")

_TABLES = {"responses": ("key", "backend", "model", "created", "response"),
           "components": ("ns", "qid", "components")}
_PUT = "INSERT OR REPLACE INTO responses (key, backend, model, created, response) VALUES (?, ?, ?, ?, ?)"
_PUT_COMPONENTS = "INSERT OR REPLACE INTO components (ns, qid, components) VALUES (?, ?, ?)"


def is_damaged(exc: BaseException) -> bool:
    """SQLite says the file is damaged (not merely busy or unwritable)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc).lower()
    return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text or "not a database" in text


def _no_space(exc: BaseException) -> str | None:
    """Why a write failed for lack of room, or None: SQLite reports a full device as
    `full`, and a file size limit or quota often as an I/O error."""
    if not isinstance(exc, sqlite3.OperationalError):
        return None
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc).lower()
    if name.startswith("SQLITE_FULL") or "disk is full" in text:
        return "the database or disk is full"
    if name.startswith("SQLITE_IOERR") or "disk i/o error" in text:
        return "disk I/O error (a full device, a quota or a file size limit)"
    return None


try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no cross-process recovery lock
    fcntl = None  # type: ignore[assignment]


class ResponseCache:
    """Key -> stored response (a JSON object). Writers in other processes wait, not fail."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path else default_cache_path()
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        #: the first write that failed for lack of space; later writes are kept in memory
        self.failed: StorageFull | None = None
        #: what recovery did (one line each), also printed on stderr when it happens
        self.notes: list[str] = []
        self._pending_components: list[tuple[str, str, str]] = []
        self._unsaved: dict[str, tuple[str, str, str, float, str]] = {}  # key -> row a failed write kept
        self._lock_fd: int | None = None
        self._inode = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            with self._locked(shared=True):  # never while another process repairs the file
                self._connect()
        except sqlite3.DatabaseError as exc:
            if (why := _no_space(exc)) is not None:
                raise StorageFull(self.path, why) from exc
            if not is_damaged(exc):
                raise ConfigError(f"cannot open the response cache {self.path}: {exc}") from exc
            self._recover(exc)
        except OSError as exc:
            if (full := storage_full(exc, self.path)) is not None:
                raise full from exc
            raise ConfigError(f"cannot open the response cache {self.path}: {exc}") from exc

    # -- connection and locks ---------------------------------------------------------

    def _connect(self) -> None:
        self._db = sqlite3.connect(str(self.path), timeout=60.0, isolation_level=None)
        self._inode = os.stat(self.path).st_ino
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=60000")
        self._migrate()

    @contextlib.contextmanager
    def _locked(self, shared: bool) -> Iterator[None]:
        """The lock file beside the cache: writers hold it shared, a repair exclusive."""
        if fcntl is None or self._lock_fd is None:
            yield
            return
        fcntl.flock(self._lock_fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _follow(self) -> None:
        """Re-open the file if another process replaced it (a repair of a file whose
        header was gone); called under the lock, before writing."""
        try:
            same = os.stat(self.path).st_ino == self._inode
        except OSError:
            same = False
        if not same:
            self._db.close()
            self._connect()

    def _migrate(self) -> None:
        """Bring the file to the current schema; each step in its own transaction, and a
        second process opening the file at the same time waits for the first."""
        _migrate(self._db)

    def _reading(self, read: Callable[[], T], default: T) -> T:
        """A read; one that fails is a miss (`default`), after repairing a damaged file."""
        for attempt in range(2):
            try:
                return read()
            except sqlite3.DatabaseError as exc:
                if attempt or not is_damaged(exc):
                    return default
                self._recover(exc)
        return default

    # -- responses --------------------------------------------------------------------

    def get(self, key: str) -> dict[str, Any] | None:
        if key in self._unsaved:
            return json.loads(self._unsaved[key][4])
        row = self._reading(
            lambda: self._db.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone(), None)
        if row is None:
            return None
        try:
            return json.loads(row[0])
        except (ValueError, TypeError):
            return None  # a damaged entry is a miss; the next success overwrites it

    def put(self, key: str, backend: str, model: str, response: dict[str, Any]) -> None:
        """Store one response, committed at once: an answer that was paid for survives a
        kill -9. When the disk is full it stays in memory (`failed` says so)."""
        self._unsaved[key] = (key, backend, model, time.time(), json.dumps(response, ensure_ascii=False))
        self._save()

    def _save(self) -> None:
        """Write the responses and Components held in memory, in one transaction."""
        if not self._unsaved and not self._pending_components:
            return
        for attempt in range(2):
            try:
                with self._locked(shared=True):
                    self._follow()
                    self._db.execute("BEGIN IMMEDIATE")
                    try:
                        self._db.executemany(_PUT, list(self._unsaved.values()))
                        self._db.executemany(_PUT_COMPONENTS, self._pending_components)
                    except BaseException:
                        with contextlib.suppress(sqlite3.Error):
                            self._db.execute("ROLLBACK")
                        raise
                    self._db.execute("COMMIT")
                self._unsaved.clear()
                self._pending_components.clear()
                return
            except sqlite3.DatabaseError as exc:
                why = _no_space(exc)
                if why is not None:
                    self.failed = self.failed or StorageFull(self.path, why)
                    return
                if attempt or not is_damaged(exc):
                    raise
                self._recover(exc)

    def components(self, ns: str) -> dict[str, str]:
        """Every memoised question (id -> Components JSON) of one namespace (benchmark + settings)."""
        none: list[tuple[str, str]] = []
        rows = self._reading(
            lambda: self._db.execute("SELECT qid, components FROM components WHERE ns = ?", (ns,)).fetchall(), none)
        return dict(rows) | {qid: text for n, qid, text in self._pending_components if n == ns}

    def put_components(self, ns: str, qid: str, text: str) -> None:
        """Memoise one question's Components; written with the next `flush` (they can be
        computed again, so a batch lost to a kill costs only retrieval time)."""
        self._pending_components.append((ns, qid, text))

    @property
    def pending(self) -> int:
        return len(self._pending_components)

    def flush(self) -> None:
        """Commit what is held in memory (memoised Components, and responses a failed
        write kept). Raises `StorageFull` when the disk is full."""
        self._save()
        if self.failed is not None:
            raise self.failed

    def stats(self) -> dict[str, Any]:
        """Entries per model; the whole file is checked first (and repaired if damaged)."""
        with contextlib.suppress(StorageFull):
            self.flush()
        if not _healthy(self._db):
            self._recover("PRAGMA quick_check found damage")

        def read() -> tuple[list[Any], int]:
            rows = self._db.execute(
                "SELECT backend || '/' || model, COUNT(*), SUM(LENGTH(response)) FROM responses GROUP BY 1 "
                "ORDER BY 2 DESC").fetchall()
            return rows, self._db.execute("SELECT COUNT(*) FROM components").fetchone()[0]

        rows, memo = self._repairing(read)
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*")
                   if p.is_file() and ".damaged-" not in p.name)
        return {
            "path": str(self.path),
            "entries": sum(r[1] for r in rows),
            "components": memo,
            "bytes_on_disk": size,
            "models": {r[0]: {"entries": r[1], "bytes": r[2] or 0} for r in rows},
        }

    def clear(self, model: str | None = None) -> int:
        """Delete every response (and the memoised Components), or the responses of one
        `backend/model`; returns how many responses. Works on a damaged file too."""
        self._unsaved.clear()
        self._pending_components.clear()

        def delete() -> int:
            if model is None:
                self._db.execute("DELETE FROM components")
                cur = self._db.execute("DELETE FROM responses")
            else:
                cur = self._db.execute("DELETE FROM responses WHERE backend || '/' || model = ?", (model,))
            return cur.rowcount

        n = self._repairing(delete)
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        if model is None:
            self._db.execute("VACUUM")
        return n

    def _repairing(self, op: Callable[[], T]) -> T:
        """`op`, repairing a damaged file first if it fails on one."""
        try:
            return op()
        except sqlite3.DatabaseError as exc:
            if not is_damaged(exc):
                raise
            self._recover(exc)
        return op()

    def close(self) -> None:
        """Write what is held and close; a full disk was reported already (`failed`)."""
        with contextlib.suppress(StorageFull, sqlite3.Error):
            self.flush()
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- repair -----------------------------------------------------------------------

    def _recover(self, exc: BaseException | str) -> None:
        """Copy the damaged file aside and rebuild the cache from its readable rows; one
        process at a time, and not again when another process repaired it meanwhile."""
        with self._locked(shared=False):
            try:
                replaced = os.stat(self.path).st_ino != self._inode
            except OSError:
                replaced = True
            if replaced or (hasattr(self, "_db") and _healthy(self._db)):
                if hasattr(self, "_db"):
                    self._db.close()
                self._connect()  # another process repaired it
                return
            aside = self._aside()
            fresh = self.path.with_name(self.path.name + ".rebuild")
            _remove(fresh)
            kept = sqlite3.connect(str(fresh), isolation_level=None)
            try:
                _migrate(kept)
                copied = _copy_readable(self._db, kept) if hasattr(self, "_db") else 0
                try:  # through SQLite, so processes that have the file open see the new contents
                    kept.backup(self._db)
                except (sqlite3.Error, AttributeError):  # the header is gone: replace the file
                    if hasattr(self, "_db"):
                        self._db.close()
                    kept.close()
                    for suffix in ("-wal", "-shm", ""):
                        _remove(Path(str(self.path) + suffix))
                    os.replace(fresh, self.path)
                    self._connect()
            finally:
                kept.close()
                for suffix in ("-wal", "-shm", ""):
                    _remove(Path(str(fresh) + suffix))
        note = (f"the response cache {self.path} was damaged ({exc}): a copy is at {aside}; its {copied} readable "
                "entries were kept in a rebuilt cache; going on")
        self.notes.append(note)
        print(f"warning: {note}", file=sys.stderr, flush=True)

    def _aside(self) -> Path:
        """Copy the damaged file (and its write-ahead log) to `<name>.damaged-<time>`."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        n = 1
        while aside.exists():
            n += 1
            aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}-{n}")
        for suffix in ("", "-wal"):
            src = Path(str(self.path) + suffix)
            if src.exists():
                with contextlib.suppress(OSError):  # no room for the copy: the rebuild still goes on
                    shutil.copyfile(src, str(aside) + suffix)
        return aside


def _migrate(db: sqlite3.Connection) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version == 0 and db.execute("SELECT 1 FROM sqlite_master WHERE name = 'prompt_parts'").fetchone():
        version = 1  # a file from before versioning: step 0's tables exist already
    while version < len(MIGRATIONS):
        db.execute("BEGIN IMMEDIATE")
        try:
            now = db.execute("PRAGMA user_version").fetchone()[0]
            if now <= version:  # nobody migrated it meanwhile
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {version + 1}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        version = db.execute("PRAGMA user_version").fetchone()[0]


def _healthy(db: sqlite3.Connection) -> bool:
    try:
        return db.execute("PRAGMA quick_check").fetchall() == [("ok",)]
    except sqlite3.DatabaseError:
        return False


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _copy_readable(src: sqlite3.Connection, dst: sqlite3.Connection) -> int:
    """Copy every row of the cache's tables that can still be read; returns the responses copied."""
    copied = 0
    for table, cols in _TABLES.items():
        dst.execute("BEGIN")
        n = 0
        for row in _readable_rows(src, table, cols):
            try:
                dst.execute(f"INSERT OR REPLACE INTO {table} ({', '.join(cols)}) VALUES "
                            f"({', '.join('?' * len(cols))})", row)
                n += 1
            except sqlite3.Error:
                continue  # a row read from garbage that does not fit the schema
        dst.execute("COMMIT")
        if table == "responses":
            copied = n
    return copied


def _readable_rows(db: sqlite3.Connection, table: str, cols: tuple[str, ...]) -> Iterator[tuple[Any, ...]]:
    """The rows of `table` in rowid order, stepping over damaged pages: after a failure,
    probe further and further ahead, then back to the first rowid that reads again."""
    select = f"SELECT rowid, {', '.join(cols)} FROM {table} WHERE rowid >= ? ORDER BY rowid"

    def probe(start: int) -> bool | None:
        """Whether a read from `start` works (None: no row there or beyond)."""
        try:
            row = db.execute(select + " LIMIT 1", (start,)).fetchone()
        except sqlite3.DatabaseError:
            return False
        return None if row is None else True

    start = 0  # rowids of these tables start at 1
    while True:
        try:
            for row in db.execute(select, (start,)):
                start = row[0] + 1
                yield tuple(row[1:])
            return
        except sqlite3.DatabaseError:
            pass
        bad, step = start, 1
        while True:  # the first start that reads again lies in (bad, bad + step]
            if bad + step >= 2**62:
                return
            ok = probe(bad + step)
            if ok is None:
                return
            if ok:
                break
            step *= 2
        lo, hi = bad + step // 2, bad + step
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if probe(mid) is False:
                lo = mid
            else:
                hi = mid
        start = hi
