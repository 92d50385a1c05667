"""The embedding cache: chunk vectors kept by (model fingerprint, sha256 of the exact text
the encoder sees), so writing a text again (an unchanged file re-added, a renamed file,
the chunks an edit did not touch) embeds nothing. The store already holds the vector of
a text it keeps: for a text written through the store (`Held`), the cache keeps only a
reference, the record id and a digest of the vector as stored (measured: 142 bytes of
file per 384-d text, against 2,119 when it kept the vector), and serves the store's
vector while the digest still matches it; a text whose record is gone or changed is
embedded again. A vector the store would not keep bit for bit (see `_entries`), and a
text written without a store, is kept whole. One SQLite file of its own in the
collection's folder (`cache/embeddings.sqlite`; a PostgreSQL collection's local cache
folder), bounded: past `max_bytes` of entries the least recently used go. It is a
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
from typing import Callable, Iterator, NamedTuple, Sequence

import numpy as np

from ..encoders.base import Progress
from ..errors import EmbkitError, EmbkitWarning

CACHE_FILE = Path("cache") / "embeddings.sqlite"
DEFAULT_MAX_BYTES = 256 * 2**20  # ~170,000 384-d vectors; `max_bytes` sets another bound
_IN = 500  # keys per IN (...) list: well under SQLite's variable limit

DIGEST = 16  # bytes of sha256 over a stored vector: another vector never passes for it
_VERSION = 2  # PRAGMA user_version; 1 kept every vector, 2 keeps references too
_SCHEMA = ["""CREATE TABLE IF NOT EXISTS vectors (
    id INTEGER PRIMARY KEY,      -- a rowid table: a 1.5 kB vector does not spill as in WITHOUT ROWID
    key BLOB NOT NULL UNIQUE,    -- sha256(fingerprint NUL text)
    vector BLOB,                 -- float32, as the encoder gave it; NULL: the store holds it
    ref TEXT,                    -- else: the id of the record whose stored vector it is
    digest BLOB,                 -- and the first DIGEST bytes of sha256 of that stored vector
    size INTEGER NOT NULL,       -- bytes kept: the vector's, or the reference's
    used INTEGER NOT NULL        -- time of the last write or hit, in ns: the LRU order
)""", "CREATE INDEX IF NOT EXISTS vectors_used ON vectors (used)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)"]


class Held(NamedTuple):
    """The store a batch of texts is written to, which keeps their vectors: the record id
    of each text (in the texts' order), its vectors by record id (`fetch`: {id: vector}
    of those it holds), and the form it keeps a vector in (`form`, a whole matrix)."""

    ids: Sequence[str]
    fetch: Callable[[list[str]], dict[str, np.ndarray]]
    form: Callable[[np.ndarray], np.ndarray]


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
                  progress: Progress | None = None, held: Held | None = None) -> np.ndarray:
    """Vectors for `texts`, in order: those the cache holds for this model fingerprint
    from it (or from the store `held` names), the others from `encode(texts, progress)`
    (each distinct text once), then kept. No cache or no fingerprint: `encode` embeds
    them all."""
    texts = list(texts)
    if cache is None or fingerprint is None or not texts:
        _count(len(texts), 0)
        return encode(texts, progress)
    return cache.encode(fingerprint, texts, encode, progress, held)


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
               progress: Progress | None = None, held: Held | None = None) -> np.ndarray:
        """See `cached_encode`."""
        keys = [_key(fingerprint, t) for t in texts]
        distinct = list(dict.fromkeys(keys))
        rows = self._guarded(lambda con: _lookup(con, distinct), {})
        found = {k: v for k, (v, _, _) in rows.items() if v is not None}
        refs = {k: (ref, digest) for k, (v, ref, digest) in rows.items() if v is None}
        found.update(self._resolve(refs, held))
        # the record each text is written as (its first): a reference follows its text there
        at = {} if held is None else {k: i for k, i in zip(reversed(keys), reversed(held.ids))}
        moved = {k: at[k] for k in found if k in refs and at.get(k, refs[k][0]) != refs[k][0]}
        missing = [k for k in distinct if k not in found]
        if progress and len(texts) > len(missing):
            progress(len(texts) - len(missing))
        if missing:
            first = {k: t for k, t in zip(reversed(keys), reversed(texts))}
            vectors = np.ascontiguousarray(encode([first[k] for k in missing], progress), dtype=np.float32)
            fresh = dict(zip(missing, vectors))
            entries = _entries(fresh, at, held)
            self._guarded(lambda con: _store(con, entries, list(found), moved), None)
            found.update(fresh)
        elif found:
            self._guarded(lambda con: _touch(con, list(found), moved), None)
        _count(len(missing), len(texts) - len(missing))
        dims = {v.shape[-1] for v in found.values()}
        if len(dims) > 1:  # a fingerprint collision cannot pass silently
            raise EmbkitError(f"embedding cache {self.path}: vectors of {sorted(dims)} dimensions for one model")
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def _resolve(self, refs: dict[bytes, tuple[str, bytes]], held: Held | None) -> dict[bytes, np.ndarray]:
        """The store's vectors of referenced records whose digest still matches; none
        without a store, or when reading it fails (a cache never fails a write)."""
        if not refs or held is None:
            return {}
        try:
            stored = held.fetch(sorted({ref for ref, _ in refs.values()}))
        except Exception as e:  # noqa: BLE001 -- any store's error: the texts are embedded instead
            self._warn(e)
            return {}
        vectors = {k: stored.get(ref) for k, (ref, _) in refs.items()}
        return {k: v for k, v in vectors.items() if v is not None and _digest(v) == refs[k][1]}

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
        """Entries (of which references to the store), bytes kept, the bound, and the
        file's size on disk."""
        def read(con: sqlite3.Connection) -> dict:
            entries, references = con.execute("SELECT count(*), count(ref) FROM vectors").fetchone()
            bound = _meta(con, "max_bytes")
            return {"entries": entries, "references": references, "bytes": _meta(con, "bytes") or 0,
                    "max_bytes": DEFAULT_MAX_BYTES if bound is None else bound}

        found = self._guarded(read, {"entries": 0, "references": 0, "bytes": 0, "max_bytes": DEFAULT_MAX_BYTES})
        files = [self.path, *(self.path.with_name(self.path.name + s) for s in ("-wal", "-shm"))]
        return {**found, "file_bytes": sum(p.stat().st_size for p in files if p.exists())}

    def _guarded(self, work, fallback):
        """`work(connection)`, or `fallback` with one warning when the cache cannot be used."""
        try:
            return self._use(work)
        except (sqlite3.Error, OSError) as e:
            self._warn(e)
            return fallback

    def _warn(self, e: Exception) -> None:
        if not self._warned:
            self._warned = True
            warnings.warn(f"embedding cache {self.path} not used ({type(e).__name__}: {e}); "
                          "texts are embedded without it", EmbkitWarning, stacklevel=5)

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
        if con.execute("PRAGMA user_version").fetchone()[0] != _VERSION:
            _create(con)
        return work(con)
    finally:
        con.close()


def _create(con: sqlite3.Connection) -> None:
    """The tables of this version; an older version's entries are dropped (a cache: it
    fills again), its bound kept."""
    with _writing(con):
        if con.execute("PRAGMA user_version").fetchone()[0] == _VERSION:
            return  # another connection made them meanwhile
        con.execute("DROP TABLE IF EXISTS vectors")
        for statement in _SCHEMA:
            con.execute(statement)
        con.execute("DELETE FROM meta WHERE key = 'bytes'")
        con.execute(f"PRAGMA user_version = {_VERSION}")


@contextmanager
def _writing(con: sqlite3.Connection):
    con.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _digest(vector: np.ndarray) -> bytes:
    return hashlib.sha256(np.ascontiguousarray(vector, dtype=np.float32).tobytes()).digest()[:DIGEST]


def _key(fingerprint: str, text: str) -> bytes:
    return hashlib.sha256(f"{fingerprint}\0{text}".encode("utf-8", "surrogatepass")).digest()


def _meta(con: sqlite3.Connection, key: str) -> int | None:
    row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else int(row[0])


def _lookup(con: sqlite3.Connection, keys: list[bytes]) -> dict[bytes, tuple]:
    """{key: (vector, None, None) or (None, record id, digest)} of the entries kept for `keys`."""
    found = {}
    for start in range(0, len(keys), _IN):
        part = keys[start:start + _IN]
        marks = ",".join("?" * len(part))
        for key, blob, ref, digest in con.execute(
                f"SELECT key, vector, ref, digest FROM vectors WHERE key IN ({marks})", part):
            vector = None if blob is None else np.frombuffer(blob, dtype=np.float32)
            found[bytes(key)] = (vector, ref, None if digest is None else bytes(digest))
    return found


def _entries(fresh: dict[bytes, np.ndarray], at: dict[bytes, str], held: Held | None) -> list[tuple]:
    """Rows (key, vector, ref, digest, size) for new vectors: a reference where the store
    keeps the vector bit for bit as a write of it would again (its form is a fixed point:
    a hit's vector, formed once more on its way to the store, stays the same bits); the
    vector itself otherwise."""
    stored = fixed = None
    if held is not None:
        try:
            stored = held.form(np.stack(list(fresh.values())))
            fixed = np.all(held.form(stored) == stored, axis=1)
        except EmbkitError:  # a zero vector under cosine: the write refuses it, not the cache
            stored = None
    rows = []
    for n, (key, vector) in enumerate(fresh.items()):
        ref = at.get(key)
        if stored is not None and ref is not None and fixed[n]:
            rows.append((key, None, ref, _digest(stored[n]), len(ref.encode("utf-8", "surrogatepass")) + DIGEST))
        else:
            rows.append((key, vector.tobytes(), None, None, vector.nbytes))
    return rows


def _touch(con: sqlite3.Connection, hits: list[bytes], moved: dict[bytes, str]) -> None:
    """Mark `hits` as just used and point `moved` references at their new records: best
    effort (a read-only folder still serves what it holds)."""
    try:
        with _writing(con):
            _mark(con, hits, moved)
    except sqlite3.OperationalError:
        pass


def _mark(con: sqlite3.Connection, hits: list[bytes], moved: dict[bytes, str]) -> None:
    now = time.time_ns()
    for start in range(0, len(hits), _IN):
        part = hits[start:start + _IN]
        con.execute(f"UPDATE vectors SET used = ? WHERE key IN ({','.join('?' * len(part))})", [now, *part])
    for key, ref in moved.items():  # the same vector, now held by the record this write makes
        size = len(ref.encode("utf-8", "surrogatepass")) + DIGEST
        old = con.execute("SELECT size FROM vectors WHERE key = ? AND vector IS NULL", (key,)).fetchone()
        if old is not None:
            con.execute("UPDATE vectors SET ref = ?, size = ? WHERE key = ?", (ref, size, key))
            _add_bytes(con, size - old[0])


def _store(con: sqlite3.Connection, rows: list[tuple], hits: list[bytes], moved: dict[bytes, str]) -> None:
    """Keep new entries (replacing a reference that no longer holds), mark the hits, then
    evict the least recently used past `max_bytes`."""
    now = time.time_ns()
    with _writing(con):
        _mark(con, hits, moved)
        for key, vector, ref, digest, size in rows:  # one by one: another process may write the same text
            old = con.execute("SELECT size, vector IS NULL FROM vectors WHERE key = ?", (key,)).fetchone()
            if old is not None and not old[1]:
                continue  # a vector kept meanwhile: it stays
            con.execute("INSERT OR REPLACE INTO vectors (key, vector, ref, digest, size, used) "
                        "VALUES (?, ?, ?, ?, ?, ?)", (key, vector, ref, digest, size, now))
            _add_bytes(con, size - (old[0] if old else 0))
        bound = _meta(con, "max_bytes")
        _evict(con, DEFAULT_MAX_BYTES if bound is None else bound)


def _add_bytes(con: sqlite3.Connection, added: int) -> None:
    con.execute("INSERT INTO meta VALUES ('bytes', ?) ON CONFLICT(key) DO UPDATE SET value = value + ?",
                (added, added))


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
