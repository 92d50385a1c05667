"""The embedding cache: chunk vectors kept by (model fingerprint, sha256 of the exact text
the encoder sees), so writing a text again (an unchanged file re-added, a renamed file,
the chunks an edit did not touch) embeds nothing. One SQLite file of its own in the
collection's folder (`cache/embeddings.sqlite`; a PostgreSQL collection's local cache
folder), bounded: past `max_bytes` of vectors the least recently used go. It is a
cache: a damaged file is started afresh, and a cache that cannot be used (a full disk,
a read-only folder) is passed by with one warning; a write never fails because of it.
Images are not cached (their encoders read files, not texts)."""

import hashlib
import sqlite3
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from ..encoders.base import Progress
from ..errors import EmbkitError, EmbkitWarning

CACHE_FILE = Path("cache") / "embeddings.sqlite"
DEFAULT_MAX_BYTES = 256 * 2**20  # ~170,000 384-d vectors; `max_bytes` sets another bound
_IN = 500  # keys per IN (...) list: well under SQLite's variable limit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    id INTEGER PRIMARY KEY,      -- a rowid table: a 1.5 kB vector does not spill as in WITHOUT ROWID
    key BLOB NOT NULL UNIQUE,    -- sha256(fingerprint NUL text)
    vector BLOB NOT NULL,        -- float32, as the encoder gave it
    size INTEGER NOT NULL,
    used INTEGER NOT NULL        -- time of the last write or hit, in ns: the LRU order
);
CREATE INDEX IF NOT EXISTS vectors_used ON vectors (used);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass
class EmbedCounts:
    """Texts handed to the encoder (`embedded`) and texts served without it (`cached`:
    from the cache, or the same text earlier in the batch)."""

    embedded: int = 0
    cached: int = 0


_COUNTING = threading.local()  # the counters `counting()` opened in this thread


@contextmanager
def counting() -> Iterator[EmbedCounts]:
    """Count what the embeds of this thread do inside the block (`sync` reports it;
    a concurrent request in another server thread is not counted)."""
    counts = EmbedCounts()
    stack = _COUNTING.__dict__.setdefault("stack", [])
    stack.append(counts)
    try:
        yield counts
    finally:
        stack.remove(counts)


def _count(embedded: int, cached: int) -> None:
    for counts in getattr(_COUNTING, "stack", ()):
        counts.embedded += embedded
        counts.cached += cached


def cached_encode(cache: "EmbeddingCache | None", fingerprint: str | None, texts: Sequence[str],
                  encode: Callable[[list[str], Progress | None], np.ndarray],
                  progress: Progress | None = None) -> np.ndarray:
    """Vectors for `texts`, in order: those the cache holds for this model fingerprint
    from it, the others from `encode(texts, progress)` (each distinct text once), then
    kept. No cache or no fingerprint: `encode` embeds them all."""
    texts = list(texts)
    if cache is None or fingerprint is None or not texts:
        _count(len(texts), 0)
        return encode(texts, progress)
    return cache.encode(fingerprint, texts, encode, progress)


class EmbeddingCache:
    """The cache file of one collection folder; safe to share between threads (each
    call opens its own connection) and processes (SQLite's locks, WAL)."""

    def __init__(self, folder: Path, max_bytes: int | None = None):
        self.path = Path(folder) / CACHE_FILE
        if max_bytes is not None:
            self.max_bytes = max_bytes
        self._warned = False

    def encode(self, fingerprint: str, texts: list[str],
               encode: Callable[[list[str], Progress | None], np.ndarray],
               progress: Progress | None = None) -> np.ndarray:
        """See `cached_encode`."""
        keys = [_key(fingerprint, t) for t in texts]
        distinct = list(dict.fromkeys(keys))
        found = self._guarded(lambda con: _lookup(con, distinct), {})
        missing = [k for k in distinct if k not in found]
        if progress and len(texts) > len(missing):
            progress(len(texts) - len(missing))
        if missing:
            first = {k: t for k, t in zip(reversed(keys), reversed(texts))}
            vectors = np.ascontiguousarray(encode([first[k] for k in missing], progress), dtype=np.float32)
            fresh = dict(zip(missing, vectors))
            self._guarded(lambda con: _store(con, fresh), None)
            found.update(fresh)
        _count(len(missing), len(texts) - len(missing))
        dims = {v.shape[-1] for v in found.values()}
        if len(dims) > 1:  # a fingerprint collision cannot pass silently
            raise EmbkitError(f"embedding cache {self.path}: vectors of {sorted(dims)} dimensions for one model")
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    @property
    def max_bytes(self) -> int:
        """The bound on the bytes of vectors kept (DEFAULT_MAX_BYTES until set)."""
        value = self._guarded(lambda con: _meta(con, "max_bytes"), None)
        return DEFAULT_MAX_BYTES if value is None else value

    @max_bytes.setter
    def max_bytes(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise EmbkitError(f"cache_max_bytes: must be a whole number of bytes, 0 or more, got {value!r}")

        def setting(con: sqlite3.Connection) -> None:
            with _writing(con):
                con.execute("INSERT OR REPLACE INTO meta VALUES ('max_bytes', ?)", (value,))
                _evict(con, value)

        self._use(setting)

    def stats(self) -> dict:
        """Entries, bytes of vectors kept, the bound, and the file's size on disk."""
        def read(con: sqlite3.Connection) -> dict:
            entries = con.execute("SELECT count(*) FROM vectors").fetchone()[0]
            bound = _meta(con, "max_bytes")
            return {"entries": entries, "bytes": _meta(con, "bytes") or 0,
                    "max_bytes": DEFAULT_MAX_BYTES if bound is None else bound}

        found = self._guarded(read, {"entries": 0, "bytes": 0, "max_bytes": DEFAULT_MAX_BYTES})
        files = [self.path, *(self.path.with_name(self.path.name + s) for s in ("-wal", "-shm"))]
        return {**found, "file_bytes": sum(p.stat().st_size for p in files if p.exists())}

    def _guarded(self, work, fallback):
        """`work(connection)`, or `fallback` with one warning when the cache cannot be used."""
        try:
            return self._use(work)
        except (sqlite3.Error, OSError) as e:
            if not self._warned:
                self._warned = True
                warnings.warn(f"embedding cache {self.path} not used ({type(e).__name__}: {e}); "
                              "texts are embedded without it", EmbkitWarning, stacklevel=4)
            return fallback

    def _use(self, work):
        """Run `work` on a fresh connection; a file that is not a database is a damaged
        cache: removed and started again, once."""
        try:
            return _with_connection(self.path, work)
        except sqlite3.DatabaseError as e:
            if isinstance(e, sqlite3.OperationalError):  # locked, read-only, disk full: not damage
                raise
            for suffix in ("", "-wal", "-shm"):
                self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
            return _with_connection(self.path, work)


def _with_connection(path: Path, work):
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")  # a cache: losing the last writes on power loss is fine
        con.executescript(_SCHEMA)
        return work(con)
    finally:
        con.close()


@contextmanager
def _writing(con: sqlite3.Connection):
    con.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _key(fingerprint: str, text: str) -> bytes:
    return hashlib.sha256(f"{fingerprint}\0{text}".encode("utf-8", "surrogatepass")).digest()


def _meta(con: sqlite3.Connection, key: str) -> int | None:
    row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else int(row[0])


def _lookup(con: sqlite3.Connection, keys: list[bytes]) -> dict[bytes, np.ndarray]:
    """The vectors kept for `keys`, marked as just used."""
    found = {}
    for start in range(0, len(keys), _IN):
        part = keys[start:start + _IN]
        marks = ",".join("?" * len(part))
        for key, blob in con.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", part):
            found[bytes(key)] = np.frombuffer(blob, dtype=np.float32)
    if found:
        try:  # the LRU order: best effort (a read-only folder still serves its vectors)
            with _writing(con):
                now, hit = time.time_ns(), list(found)
                for start in range(0, len(hit), _IN):
                    part = hit[start:start + _IN]
                    con.execute(f"UPDATE vectors SET used = ? WHERE key IN ({','.join('?' * len(part))})",
                                [now, *part])
        except sqlite3.OperationalError:
            pass
    return found


def _store(con: sqlite3.Connection, fresh: dict[bytes, np.ndarray]) -> None:
    """Keep new vectors, then evict the least recently used past `max_bytes`."""
    now = time.time_ns()
    rows = [(k, v.tobytes(), v.nbytes, now) for k, v in fresh.items()]
    with _writing(con):
        added = 0
        for row in rows:  # one by one: another process may have kept the same text meanwhile
            added += con.execute("INSERT OR IGNORE INTO vectors (key, vector, size, used) VALUES (?, ?, ?, ?)",
                                 row).rowcount * row[2]
        con.execute("INSERT INTO meta VALUES ('bytes', ?) ON CONFLICT(key) DO UPDATE SET value = value + ?",
                    (added, added))
        bound = _meta(con, "max_bytes")
        _evict(con, DEFAULT_MAX_BYTES if bound is None else bound)


def _evict(con: sqlite3.Connection, max_bytes: int) -> None:
    """Drop the least recently used vectors until at most `max_bytes` remain (in the
    caller's transaction)."""
    excess = (_meta(con, "bytes") or 0) - max_bytes
    if excess <= 0:
        return
    doomed, freed = [], 0
    for rowid, size in con.execute("SELECT id, size FROM vectors ORDER BY used, id"):
        doomed.append(rowid)
        freed += size
        if freed >= excess:
            break
    for start in range(0, len(doomed), _IN):
        part = doomed[start:start + _IN]
        con.execute(f"DELETE FROM vectors WHERE id IN ({','.join('?' * len(part))})", part)
    con.execute("UPDATE meta SET value = value - ? WHERE key = 'bytes'", (freed,))
