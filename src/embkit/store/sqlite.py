"""The embedded store: one SQLite file in WAL mode, the collection's source of truth.

Every public write is one transaction (BEGIN IMMEDIATE … COMMIT): a batch lands whole
or not at all, and a process killed at any point leaves the last committed state.
"""

import functools
import json
import sqlite3
import uuid
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ..errors import EmbkitError
from . import field_indexes, filter_cache, keyword_sqlite, sqlite_pages
from .filter_cache import FilterCache
from .integrity import sqlite_problems
from .keyword_cache import KeywordCache
from .lazy_record import LazyRecord
from .meta_cache import MetaCache
from .read_only import connect_read_only, read_only_connection, unwritable_reason, write_failure_reason
from .schema import DB_NAME, IDENTITY_KEY, SCHEMA_VERSION, STATEMENTS, VECTORS_V2
from .sqlite_busy import busy_timeout
from .sqlite_connections import Connections
from .sqlite_reembed import SUPERSEDED, SQLiteReembed, followers_of
from .types import Record, Space, part_of, refuse_taken_ids
from .where import SQLITE, compile_where
from .where_fields import named_fields, presence_query, warnings_from


class SQLiteStore(SQLiteReembed):
    """Documents, metadata and float32 vectors in `DIR/embkit.db`."""

    backend = "sqlite"
    read_only = False  # opened read-only (a read-only mount, no write permission, a full disk): writes refuse
    read_only_reason = ""
    _identity: str | None = None  # the collection's UUID, once read (see identity)
    _indexes: set[str] | None = None  # names of the metadata field indexes, once read

    def __init__(self, path: Path, conn: sqlite3.Connection, open_reader: Callable[[], sqlite3.Connection]):
        # `conn` writes (and reads inside a write); each thread reads on its own (sqlite_connections)
        self._connections = Connections(conn, open_reader)
        self.path, self._conn, self._lock = path, conn, self._connections.lock
        self._filters = FilterCache()  # row ids of recent filters, until the next change
        stamp = self._connections.stamp
        self._meta = MetaCache(stamp)  # the meta table, until the next change (a search reads it)
        self._keywords = KeywordCache(stamp=stamp)  # blocks of recently queried terms, brought up to date by writes

    # ---- opening -------------------------------------------------------------------

    @classmethod
    def create(cls, path: Path, spaces: Sequence[Space]) -> "SQLiteStore":
        """A new store in folder `path` (which must not hold a collection already)."""
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise EmbkitError(f"path: {path} exists and is not a folder")
        if (path / DB_NAME).exists():
            raise EmbkitError(f"path: {path} already holds a collection")
        path.mkdir(parents=True, exist_ok=True)
        sqlite_pages.create_file(path / DB_NAME, [s.dim for s in spaces])  # the page size, before any table
        store = cls(path, _connect(path / DB_NAME), functools.partial(_connect_reader, path / DB_NAME))
        with store._write() as c:
            for statement in STATEMENTS:
                c.execute(statement)
            keyword_sqlite.create(c)
            c.executemany("INSERT INTO meta VALUES (?, ?)",
                          [("schema_version", str(SCHEMA_VERSION)), ("generation", "0"), ("changes_from", "0"),
                           (IDENTITY_KEY, uuid.uuid4().hex)])
            c.executemany("INSERT INTO spaces VALUES (?, ?, ?, ?, ?)",
                          [(s.name, s.model, s.dim, s.metric, int(s.normalized)) for s in spaces])
        return store

    @classmethod
    def open(cls, path: Path) -> "SQLiteStore":
        """The store in folder `path`; refuses a missing or foreign folder or a newer schema,
        and migrates an older one in place (all or nothing). A database this process cannot
        write is opened read-only (see read_only.py): it reads, and every write refuses."""
        path = Path(path)
        if not path.is_dir():
            raise EmbkitError(f"path: no collection at {path} (folder does not exist; create one with `embkit init`)")
        if not (path / DB_NAME).exists():
            raise EmbkitError(f"path: {path} is not an embkit collection (no {DB_NAME})")
        conn = None
        try:
            conn, read_only, open_reader = _connect_existing(path / DB_NAME)
            version = int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
        except EmbkitError:  # already says what is wrong (an unreadable WAL on a read-only mount)
            raise
        except (sqlite3.DatabaseError, TypeError, ValueError) as e:
            if conn is not None:
                conn.close()
            raise EmbkitError(f"path: {path / DB_NAME} is not a readable embkit database ({e})") from None
        if version > SCHEMA_VERSION:
            conn.close()
            raise EmbkitError(f"schema_version: collection at {path} has schema version {version}, newer than "
                              f"this embkit supports ({SCHEMA_VERSION}); upgrade embkit")
        store = cls(path, conn, open_reader)
        store.read_only, store.read_only_reason = read_only is not None, read_only or ""
        if version < SCHEMA_VERSION and store.read_only:
            conn.close()
            raise EmbkitError(f"schema_version: collection at {path} has schema version {version} and is read-only, "
                              f"so it cannot be migrated to {SCHEMA_VERSION}; open it once where it is writable")
        if version < SCHEMA_VERSION:
            try:
                with store._write() as c:
                    _migrate(c)
            except Exception as e:  # the rollback left the old version intact
                conn.close()
                raise EmbkitError(f"schema_version: could not migrate {path / DB_NAME} from schema version "
                                  f"{version} to {SCHEMA_VERSION} ({e}); the collection is unchanged") from e
        if not store.read_only and keyword_sqlite.needs_rebuild(conn):  # another tokenizer: its terms would not match
            try:
                store.rebuild_keyword()
            except (sqlite3.Error, EmbkitError) as e:  # rolled back: the old index stays
                conn.close()
                raise EmbkitError(f"keyword index: could not rebuild it for this tokenizer at {path} ({e}); "
                                  "the collection is unchanged") from e
        if not store.read_only and sqlite_pages.made_before(conn):  # an older embkit's page size (see sqlite_pages)
            store.vacuum(wait=False)  # after the migration committed; another process's connection: a later open
        return store

    def close(self) -> None:
        """Close every connection: each thread's reader and the write connection."""
        self._connections.close()

    def _read(self) -> sqlite3.Connection:
        """The connection this thread reads on (sqlite_connections): the write connection
        inside this thread's write, else the thread's own read-only one."""
        return self._connections.reader()

    @property
    def location(self) -> str:
        return str(self.path)

    # ---- reading -------------------------------------------------------------------

    def spaces(self) -> dict[str, Space]:
        rows = self._read().execute("SELECT name, model, dim, metric, normalized FROM spaces ORDER BY rowid").fetchall()
        return {r[0]: Space(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows}

    def meta(self, key: str) -> str | None:
        row = self._read().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str | None) -> None:
        """Set (or, with None, remove) a configuration value, in its own transaction."""
        with self._write() as c:
            if value is None:
                c.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                c.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    @property
    def generation(self) -> int:
        return int(self._meta.values(self._read())["generation"])

    def state(self) -> tuple[int, int] | None:
        """The store's stamp of the database (sqlite_connections.stamp): equal stamps mean
        nothing was written between them, by this process or another; None while a write
        of this store is open. Rows read between two equal stamps belong to that state (hit_rows)."""
        return self._connections.stamp(self._read())

    def settled(self):
        """One read snapshot for this thread (a read transaction on its connection): what
        an index catches up from (generation, changes, vectors) is of one committed state.
        Uncommitted rows of a write in another thread are never read (their own connection)."""
        return self._connections.snapshot()

    @property
    def identity(self) -> str | None:
        """The collection's UUID, recorded by its derived files so that another
        collection's are never trusted. A collection made before identities gets one
        here, on first use; None if it has none and cannot be written (read-only).
        Read once per store: it never changes, and every cache load and save asks."""
        if self._identity is None:
            self._identity = self._read_identity()
        return self._identity

    def _read_identity(self) -> str | None:
        value = self.meta(IDENTITY_KEY)
        if value is None:
            try:
                with self._write() as c:  # OR IGNORE: a process that got there first wins, and both agree
                    c.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (IDENTITY_KEY, uuid.uuid4().hex))
                value = self.meta(IDENTITY_KEY)
            except (sqlite3.Error, EmbkitError):  # read-only: no identity to check against
                return None
        return value

    def count(self, where: dict | None = None) -> int:
        sql, params = compile_where(where)
        return self._read().execute(f"SELECT count(*) FROM docs WHERE {sql}", params).fetchone()[0]

    def count_documents(self, where: dict | None = None) -> int:
        """Distinct documents among the records (matching `where`): a record's string
        `parent` names its document, else the record is one by itself."""
        sql, params = compile_where(where)
        return self._read().execute(
            "SELECT count(DISTINCT CASE WHEN json_type(metadata, '$.parent') = 'text' "
            f"THEN json_extract(metadata, '$.parent') ELSE id END) FROM docs WHERE {sql}", params).fetchone()[0]

    def filter_warnings(self, where: dict | None) -> list[str]:
        """What a (validated) filter names that no document has (see where_fields)."""
        checks, sql, params = presence_query(named_fields(where), SQLITE)
        return warnings_from(checks, self._read().execute(sql, params).fetchone()) if checks else []

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(list(ids), 500):
            marks = ",".join("?" * len(chunk))
            found.update(r[0] for r in self._read().execute(f"SELECT id FROM docs WHERE id IN ({marks})", chunk))
        return found

    def refuse_existing(self, ids: Sequence[str]) -> None:
        """Raise if any of `ids` is stored already (what `add`, unlike upsert, refuses)."""
        refuse_taken_ids(ids, self.existing_ids(ids))

    def get(self, ids: Sequence[str]) -> list[Record]:
        """The stored documents for `ids`, in that order; missing ids are left out."""
        by_id = {}
        for chunk in _chunks(list(ids), 500):
            marks = ",".join("?" * len(chunk))
            rows = self._read().execute(f"SELECT rowid, id, text, metadata FROM docs WHERE id IN ({marks})", chunk)
            by_id.update((r[1], _record(r)) for r in rows)
        return [by_id[i] for i in ids if i in by_id]

    def find(self, where: dict | None = None, limit: int | None = None, offset: int = 0) -> list[Record]:
        """Documents matching `where`, in insertion order."""
        sql, params = compile_where(where)
        tail = " LIMIT ? OFFSET ?" if limit is not None else ""
        args = params + ([limit, offset] if limit is not None else [])
        rows = self._read().execute(f"SELECT rowid, id, text, metadata FROM docs WHERE {sql} ORDER BY rowid{tail}",
                                    args)
        return [_record(r) for r in rows]

    def by_rowids(self, rowids: Iterable[int]) -> dict[int, Record]:
        out = {}
        for chunk in _chunks([int(r) for r in rowids], 500):
            marks = ",".join("?" * len(chunk))
            rows = self._read().execute(f"SELECT rowid, id, text, metadata FROM docs WHERE rowid IN ({marks})", chunk)
            out.update((r[0], _record(r)) for r in rows)
        return out

    def search_records(self, rowids: list[int]) -> dict[int, LazyRecord]:
        """`by_rowids` for a search: {row id: record} with the metadata decoded only for
        the records whose metadata is read (the hits returned)."""
        out = {}
        for chunk in _chunks(rowids, 500):  # one statement for a search's k (cached by SQLite's statement cache)
            out.update({r[0]: LazyRecord(*r) for r in self._read().execute(_rows_sql(len(chunk)), chunk)})
        return out

    SEARCH_ROWS_SEEN = 500  # search_rows of up to this many rows says what its statement saw (SearchRows)

    def search_rows(self, rowids: list[int]) -> dict[int, tuple[str, str | None, str]]:
        """{row id: (id, text, metadata JSON as stored)} of a plain search's hits (at most
        500 rows in one statement, as `search_records` reads them; more in chunks). For a
        search's k, a `SearchRows` whose `superseded` is the reembed map and `generation`
        the store's generation as the same statement read them: the search needs no
        freshness check of its own (search/plain.py compares it with its index's)."""
        if 0 < len(rowids) <= self.SEARCH_ROWS_SEEN:  # a search's k: one statement
            found = self._read().execute(_rows_seen_sql(len(rowids)), rowids).fetchall()
            rows = SearchRows({row[0]: row[1:4] for row in found})
            if found:  # no row read, no map read: None (the caller reads it itself)
                first = found[0]
                rows.superseded, rows.generation = self._superseded_of(first[4]), int(first[5])
            return rows
        out = {}
        for chunk in _chunks(rowids, 500):
            out.update({row[0]: row[1:] for row in self._read().execute(_rows_sql(len(chunk)), chunk)})
        return out

    _superseded_text: tuple[str | None, dict[str, str]] = (None, {})  # the map's last JSON text, parsed

    def _superseded_of(self, text: str | None) -> dict[str, str]:
        """The reembed map from its stored JSON (NULL: none), parsed once per text; the
        caller's own dict."""
        kept = self._superseded_text
        if kept[0] != text:
            kept = self._superseded_text = (text, json.loads(text) if text else {})
        return dict(kept[1])

    def rowids(self, where: dict | None = None) -> np.ndarray:
        """Row ids of the documents matching `where`, ascending and read-only (the filter
        runs in SQL, through the indexes of the fields it names where it can:
        field_indexes.py; asked again before any change, it is answered from filter_cache)."""
        key = self._filters.key(where)
        stamp = self._connections.stamp
        found = self._filters.get(key, stamp(self._read()))
        if found is not None:
            return found
        sql, params = compile_where(where)
        narrow, narrow_params, fields = field_indexes.narrowing(where)
        if fields and not self._index_fields(fields):
            key = None  # not kept: the next search tries to make the index again
        before = stamp(self._read())
        generation, outdated = self.generation, self._filters.outdated(key, before)
        changed = self.changed_since(outdated[0]) if outdated is not None else None
        if changed is not None and len(changed) <= filter_cache.REFRESH_LIMIT:  # after a write: its rows only
            matching = self._select_rowids(f"rowid IN ({','.join(map(str, changed.tolist())) or 'NULL'}) AND "
                                           f"{narrow}{sql}", narrow_params + params)
            found = filter_cache.refresh(outdated[1], changed, matching)
        else:
            found = self._select_rowids(narrow + sql, narrow_params + params)
        return self._filters.put(key, before, stamp(self._read()), generation, found)

    def _select_rowids(self, condition: str, params: list) -> np.ndarray:
        rows = self._read().execute(f"SELECT rowid FROM docs WHERE {condition}", params).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def _index_fields(self, fields: list[str]) -> bool:
        """Index the filtered fields that have none yet, in a collection big enough for it
        to matter; only if no other writer holds the database (a search never waits).
        False when an index is wanted but another writer kept it from being made."""
        if self.read_only:
            return True
        missing = [f for f in fields if field_indexes.index_name(f) not in self._field_indexes()]
        if not missing or self._read().execute("SELECT count(*) FROM docs").fetchone()[0] < field_indexes.INDEX_FROM:
            return True
        # A connection of its own, that never waits (a search is not held up for an index); its
        # commit is another connection's to the caches (sqlite_connections.stamp), as it should be.
        conn = sqlite3.connect(self.path / DB_NAME, isolation_level=None, timeout=0)
        try:
            conn.execute("BEGIN IMMEDIATE")
            for field in missing:
                field_indexes.create(conn, field)
            conn.execute("COMMIT")
        except sqlite3.OperationalError:  # busy: another writer; the next filtered search tries again
            return False
        finally:
            conn.close()  # an open transaction is rolled back with it
        self._indexes = None
        return True

    def _field_indexes(self) -> set[str]:
        if self._indexes is None:
            self._indexes = field_indexes.indexed(self._read())
        return self._indexes

    def vectors(self, space: str, rowids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(row ids, float32 matrix) of a space, all of it or for the given rows."""
        dim = self.spaces()[space].dim
        if rowids is None:
            rows = self._read().execute("SELECT doc, vector FROM vectors WHERE space = ? ORDER BY doc",
                                      (space,)).fetchall()
        else:
            rows = []
            for chunk in _chunks([int(r) for r in rowids], 500):
                marks = ",".join("?" * len(chunk))
                rows += self._read().execute(
                    f"SELECT doc, vector FROM vectors WHERE space = ? AND doc IN ({marks}) ORDER BY doc",
                    [space, *chunk]).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dim)
        return ids, matrix

    def size_bytes(self) -> int:
        """Bytes on disk of the database and its WAL."""
        return sum(p.stat().st_size for p in self.path.glob(DB_NAME + "*") if p.is_file())

    def vacuum(self, wait: bool = True) -> bool:
        """Rewrite the file without the free pages deleted rows left, at the page size its
        spaces' vectors want (see sqlite_pages). Needs the only connection to the file:
        with `wait`, another one is an EmbkitError; without, False and nothing changed."""
        self.check_writable()
        page = sqlite_pages.page_size_for(s.dim for s in self.spaces().values())
        # a page size change needs the file alone: ended threads' readers and this thread's closed first
        return sqlite_pages.vacuum(self._conn, self._lock, page, wait=wait,
                                   alone=self._connections.close_idle_readers)

    def integrity_problems(self) -> list[str]:
        """What SQLite's integrity and foreign-key checks find (empty: healthy)."""
        return sqlite_problems(self._read())  # one read snapshot: writers carry on

    def vector_blobs(self, space: str, batch: int = 10_000):
        """Every stored vector of `space` as (row id, raw bytes) pairs, a batch (list) at
        a time, unparsed: `embkit check` looks at what is really there."""
        last = -1
        while True:
            rows = self._read().execute("SELECT doc, vector FROM vectors WHERE space = ? AND doc > ? ORDER BY doc "
                                      "LIMIT ?", (space, last, batch)).fetchall()
            if not rows:
                return
            yield [(r[0], bytes(r[1]) if r[1] is not None else b"") for r in rows]
            last = rows[-1][0]

    def vector_batches(self, space: str, batch: int = 8192):
        """Every stored vector of `space` as (row ids, float32 matrix) batches, in table
        order: one scan, no sort, no copy of the whole space (an HNSW index refills its
        storage by row id from it). A vector of the wrong length is left out (`embkit
        check` reports it)."""
        size = 4 * self.spaces()[space].dim
        with self._connections.open_read() as conn:  # its statement stays open between batches
            cursor = conn.execute("SELECT doc, vector FROM vectors WHERE space = ?", (space,))
            try:
                while rows := cursor.fetchmany(batch):
                    rows = [r for r in rows if r[1] is not None and len(r[1]) == size]
                    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                    yield ids, np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows),
                                                                                                     size // 4)
            finally:
                cursor.close()  # an abandoned scan ends its snapshot

    # ---- writing -------------------------------------------------------------------

    def write(self, records: Sequence[Record], space: str, vectors: np.ndarray, upsert: bool,
              documents: Sequence[str] = ()) -> None:
        """Insert (or, with `upsert`, insert or replace) documents and their vectors in
        one transaction. Without `upsert`, an existing id rejects the whole batch. In the
        same transaction, records of `documents` (by id, or by a string metadata `parent`)
        that this batch did not write are deleted: the chunks an older version left."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._write() as c:
            if not upsert:
                self.refuse_existing([r.id for r in records])
            old = _texts_by_id(c, [r.id for r in records]) if upsert else {}  # what the keyword index drops
            new: dict[int, str | None] = {}
            generation = _bump_generation(c)
            follower = followers_of(c, space)  # a space being re-embedded from this one, if any
            for record, vector in zip(records, vectors):
                meta = json.dumps(record.metadata, ensure_ascii=False, allow_nan=False)
                row = c.execute(
                    "INSERT INTO docs (id, text, metadata) VALUES (?, ?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET text = excluded.text, metadata = excluded.metadata "
                    "RETURNING rowid", (record.id, record.text, meta)).fetchone()
                new[row[0]] = record.text
                c.execute("INSERT OR REPLACE INTO vectors (space, doc, vector) VALUES (?, ?, ?)",
                          (space, row[0], vector.tobytes()))
                if follower is not None:  # its new-space vector came from the old text: embedded again
                    c.execute("DELETE FROM vectors WHERE space = ? AND doc = ?", (follower, row[0]))
                c.execute("INSERT OR IGNORE INTO changes VALUES (?, ?)", (generation, row[0]))
            if documents:
                old.update(_delete_stale(c, generation, list(documents), {r.id for r in records}))
            keyword_sqlite.update(c, old, new, self._keywords)

    def add_space(self, space: Space) -> None:
        """A new vector space, in its own transaction."""
        with self._write() as c:
            if c.execute("SELECT 1 FROM spaces WHERE name = ?", (space.name,)).fetchone():
                raise EmbkitError(f"name: the collection has a space {space.name!r} already")
            c.execute("INSERT INTO spaces VALUES (?, ?, ?, ?, ?)",
                      (space.name, space.model, space.dim, space.metric, int(space.normalized)))

    def merge_metadata(self, patches: dict[int, dict]) -> None:
        """Merge fields into the metadata of rows (row id -> {field: value}), in one
        transaction. A value of None removes the field. Vectors and text are untouched,
        so the generation does not move and no index goes stale."""
        rows = {int(r): dict(p) for r, p in patches.items()}
        with self._write() as c:
            current = {}
            for chunk in _chunks(list(rows), 500):
                marks = ",".join("?" * len(chunk))
                current.update(c.execute(f"SELECT rowid, metadata FROM docs WHERE rowid IN ({marks})", chunk))
            missing = [r for r in rows if r not in current]
            if missing:
                raise EmbkitError(f"rowids: {len(missing)} rows do not exist (first: {missing[0]})")
            updates = []
            for rowid, patch in rows.items():
                meta = json.loads(current[rowid])
                for key, value in patch.items():
                    if value is None:
                        meta.pop(key, None)
                    else:
                        meta[key] = value
                updates.append((json.dumps(meta, ensure_ascii=False, allow_nan=False), rowid))
            c.executemany("UPDATE docs SET metadata = ? WHERE rowid = ?", updates)
            self._filters.forget(self._connections.writes + 1)  # not in the change log the filter cache catches up from

    def delete(self, ids: Sequence[str] | None = None, where: dict | None = None) -> int:
        """Delete by ids and/or `where` in one transaction; the number deleted."""
        sql, params = compile_where(where)
        with self._write() as c:
            if ids is not None:
                rows = []
                for chunk in _chunks(list(ids), 500):
                    marks = ",".join("?" * len(chunk))
                    rows += c.execute(f"SELECT rowid, text FROM docs WHERE id IN ({marks}) AND {sql}",
                                      chunk + params).fetchall()
            else:
                rows = c.execute(f"SELECT rowid, text FROM docs WHERE {sql}", params).fetchall()
            if rows:
                generation = _bump_generation(c)
                c.executemany("INSERT OR IGNORE INTO changes VALUES (?, ?)", [(generation, r[0]) for r in rows])
                for chunk in _chunks([r[0] for r in rows], 500):
                    c.execute(f"DELETE FROM docs WHERE rowid IN ({','.join('?' * len(chunk))})", chunk)
                keyword_sqlite.update(c, dict(rows), {}, self._keywords)
        return len(rows)

    # ---- the keyword index (keyword_sqlite.py) -----------------------------------------

    def keyword_top_k(self, terms: list[str], k: int,
                      allow: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(row ids, BM25 scores) of the `k` best documents for tokenized `terms`."""
        if self.read_only and not keyword_sqlite.format_is_current(self._read()):  # writable: rebuilt on open
            raise EmbkitError(f"keyword index: collection at {self.path} holds it in an older embkit's format and "
                              "is read-only, so it cannot be rebuilt; open it once where it is writable")
        return keyword_sqlite.top_k(self._read(), terms, k, allow, self._keywords)

    def keyword_stats(self) -> dict:
        return keyword_sqlite.stats(self._read())

    def rebuild_keyword(self, progress=None) -> None:
        """Build the keyword index again from the documents' text, in one transaction."""
        with self._write() as c:
            keyword_sqlite.rebuild(c, progress, self._keywords)

    def changed_since(self, generation: int) -> np.ndarray | None:
        """Row ids written or deleted after `generation`, or None if the change log no
        longer reaches back that far (the caller then rebuilds)."""
        if generation < int(self.meta("changes_from")):
            return None
        rows = self._read().execute("SELECT DISTINCT doc FROM changes WHERE generation > ?", (generation,)).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def prune_changes(self, upto: int) -> None:
        """Forget changes up to generation `upto` (an index has saved them). A read-only
        store keeps its log: pruning is housekeeping, never worth failing a read for."""
        if self.read_only:
            return
        with self._write() as c:
            c.execute("DELETE FROM changes WHERE generation <= ?", (upto,))
            c.execute("UPDATE meta SET value = ? WHERE key = 'changes_from' AND CAST(value AS INTEGER) < ?",
                      (str(upto), upto))

    def check_writable(self) -> None:
        """Refuse now if this store is read-only: before work a write would waste."""
        if self.read_only:
            raise EmbkitError(f"path: collection at {self.path} is read-only ({self.read_only_reason}); it can be "
                              "searched but not changed")

    def _write(self):
        self.check_writable()
        return self._connections.transaction()


def _connect_existing(db: Path) -> tuple[sqlite3.Connection, str | None, Callable[[], sqlite3.Connection]]:
    """(connection, why it is read-only or None, how to open a thread's read connection)
    for an existing database: read-write when this process can write it, else read-only
    (see read_only.py)."""
    reason = unwritable_reason(db)
    if reason is None:
        try:
            return _connect(db), None, functools.partial(_connect_reader, db)
        except sqlite3.OperationalError as e:  # what os.access cannot see: a full disk, ...
            reason = write_failure_reason(e)
            if reason is None:
                raise
    conn, flags = read_only_connection(db)
    return conn, reason, functools.partial(connect_read_only, db, flags)


WAL_LIMIT = 64 * 2**20
MMAP_SIZE = 2**30  # address space, not memory: the OS pages the file in as it is read, and may drop it


def _connect(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False, timeout=busy_timeout())
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")  # a commit survives a crash, not only a killed process
    conn.execute("PRAGMA foreign_keys = ON")
    # A checkpoint truncates the WAL back to this size, so a big delete's WAL does not stay on disk.
    conn.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT}")
    # Reads through a memory map: a search's k rows are k random seeks, which outside SQLite's
    # 2 MB page cache each cost a read() (10 rows: ~33 -> ~19 us at 200k). Writes stay write()s
    # (SQLite maps read-only), the WAL is read as before, and a file that shrinks is remapped.
    conn.execute(f"PRAGMA mmap_size = {MMAP_SIZE}")
    return conn


def _connect_reader(db: Path) -> sqlite3.Connection:
    """A thread's read connection to a database this process writes: read-only (`mode=ro`
    sees the WAL: the write connection keeps its `-shm`), reading through the memory map."""
    conn = connect_read_only(db, "mode=ro")
    conn.execute(f"PRAGMA mmap_size = {MMAP_SIZE}")
    return conn


def _migrate(c: sqlite3.Connection) -> None:
    """Bring the schema up to SCHEMA_VERSION, one step per version, within the caller's transaction."""
    # Read again under the write lock: another process may have migrated meanwhile.
    version = int(c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
    while version < SCHEMA_VERSION:
        if version not in _MIGRATIONS:
            raise EmbkitError(f"no migration from version {version}")
        _MIGRATIONS[version](c)
        version += 1
    c.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))


def _vectors_with_rowid(c: sqlite3.Connection) -> None:
    """1 -> 2: `vectors` becomes a rowid table (see schema.py). Nothing references it, so
    it can be rebuilt under a temporary name and renamed with foreign keys on."""
    c.execute(VECTORS_V2.replace("CREATE TABLE vectors", "CREATE TABLE vectors_v2", 1))
    c.execute("INSERT INTO vectors_v2 (space, doc, vector) SELECT space, doc, vector FROM vectors")
    c.execute("DROP TABLE vectors")
    c.execute("ALTER TABLE vectors_v2 RENAME TO vectors")


def _keyword_tables(c: sqlite3.Connection) -> None:
    """2 -> 3: the keyword index moves into the store (keyword_sqlite.py), built from the
    documents' text; the bm25s files version 2 kept in `keyword/` are left to `compact`."""
    keyword_sqlite.create(c)
    keyword_sqlite.rebuild(c)


# The step that takes a database from version N to N + 1, keyed by N.
_MIGRATIONS = {1: _vectors_with_rowid, 2: _keyword_tables}


def _bump_generation(c: sqlite3.Connection) -> int:
    """The next generation, within the caller's transaction."""
    c.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
    return int(c.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])


def _record(row) -> Record:
    return Record(id=row[1], text=row[2], metadata=json.loads(row[3]), rowid=row[0])


@functools.lru_cache(maxsize=64)
def _rows_sql(n: int, extra: str = "") -> str:
    """The statement reading `n` rows by row id: the ids as a VALUES list joined to docs
    (one seek each, in the given order; ~10% less than `rowid IN (...)`, which sorts the
    list into a temporary b-tree first); `extra`, more columns after the metadata."""
    return (f"SELECT d.rowid, d.id, d.text, d.metadata{extra} FROM (VALUES {','.join(['(?)'] * n)}) AS v "
            f"CROSS JOIN docs AS d ON d.rowid = v.column1")


@functools.lru_cache(maxsize=64)
def _rows_seen_sql(n: int) -> str:
    """`_rows_sql` with the reembed map (meta's SUPERSEDED, NULL when none) and the store's
    generation as fifth and sixth columns: uncorrelated subqueries, read once per statement,
    in its snapshot."""
    return _rows_sql(n, f", (SELECT value FROM meta WHERE key = '{SUPERSEDED}'), "
                        "(SELECT value FROM meta WHERE key = 'generation')")


class SearchRows(dict):
    """`search_rows`' {row id: (id, text, metadata JSON)}, with `superseded`: {old space:
    its successor} as the statement that read the rows saw it (None: not read)."""

    superseded: dict[str, str] | None = None
    generation: int | None = None  # the store's generation as that statement read it (None: not read)


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _delete_stale(c, generation: int, documents: list[str], kept: set[str]) -> dict[int, str | None]:
    """Delete the records of `documents` (see types.part_of) not in `kept`; {row id: text}
    of those deleted."""
    stale: dict[int, str | None] = {}
    for group in _chunks(documents, 400):
        marks, wanted = ",".join("?" * len(group)), set(group)
        stale.update((rowid, text) for rowid, doc_id, text, parent in c.execute(
            f"SELECT rowid, id, text, json_extract(metadata, '$.parent') FROM docs WHERE id IN ({marks}) OR "
            f"(json_type(metadata, '$.parent') = 'text' AND json_extract(metadata, '$.parent') IN ({marks}))",
            group + group)
            if doc_id not in kept and (doc_id in wanted or part_of(doc_id, parent, parent)))
    c.executemany("INSERT OR IGNORE INTO changes VALUES (?, ?)", [(generation, r) for r in stale])
    for group in _chunks(list(stale), 500):
        c.execute(f"DELETE FROM docs WHERE rowid IN ({','.join('?' * len(group))})", group)
    return stale


def _texts_by_id(c, ids: list[str]) -> dict[int, str | None]:
    """{row id: text} of the stored records among `ids`."""
    out: dict[int, str | None] = {}
    for group in _chunks(ids, 500):
        out.update((r[0], r[1]) for r in c.execute(
            f"SELECT rowid, text FROM docs WHERE id IN ({','.join('?' * len(group))})", group))
    return out
