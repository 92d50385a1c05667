"""The PostgreSQL backend: documents, JSONB metadata and pgvector columns in a schema
of their own per collection (`embkit_<name>`), the same Store protocol as SQLite.

A collection is named by URL: `postgresql://user@host:5432/db?collection=NAME`, with
`&read_url=postgresql://...` to send reads to a streaming replica. Writes (and the
reads inside them) go to the primary in one transaction each; reads from a replica
may lag behind the primary by its replication delay. The keyword index lives in the
database too (pg_keyword.py), changed in each write's own transaction; derived caches
(projections) live in a local folder under EMBKIT_HOME, stamped with the generation."""

import contextlib
import json
import shutil
import threading
import uuid
from typing import Iterable, Sequence

import numpy as np

from ..errors import EmbkitError
from . import pg_json
from .keyword_terms import DESCRIPTION
from .pg_connection import READ_ONLY, PgUrl, connect
from .pg_keyword import KEYWORD_TABLES, TOKENIZER_KEY, PgKeyword
from .pg_migrate import migrate
from .pg_search import PgSearch
from .postgres_reembed import PgReembed
from .schema import IDENTITY_KEY, SCHEMA_VERSION
from .types import Record, Space, part_of, refuse_taken_ids


class PostgresStore(PgReembed, PgKeyword, PgSearch):
    """The Store protocol (see base.py) on PostgreSQL + pgvector."""

    backend = "postgresql"
    read_only = False  # PostgreSQL refuses writes itself (a read-only role or replica says why)
    _identity: str | None = None  # the collection's UUID, once read (see identity)

    def __init__(self, url: PgUrl, conn):
        from psycopg import sql

        self.url, self._conn, self._lock = url, conn, threading.RLock()
        self.path = url.cache_folder()
        self._local = threading.local()
        self._readers: list = []
        self._sql = sql
        self._spaces: dict | None = None

    # ---- opening -------------------------------------------------------------------

    @classmethod
    def create(cls, url: str, spaces, read_url: str | None = None) -> "PostgresStore":
        target = PgUrl(url, read_url)
        store = cls(target, connect(target.conninfo, create_extension=True))
        try:
            with store._transaction() as c:
                exists = c.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s",
                                   (target.schema,)).fetchone()
                if exists:
                    raise EmbkitError(f"collection: {target.public()} already holds a collection")
                store._create_schema(c, spaces)
        except BaseException:
            store.close()
            raise
        shutil.rmtree(store.path, ignore_errors=True)  # caches of an earlier collection of this name
        store.path.mkdir(parents=True, exist_ok=True)
        return store

    @classmethod
    def open(cls, url: str, read_url: str | None = None) -> "PostgresStore":
        target = PgUrl(url, read_url)
        store = cls(target, connect(target.conninfo))
        row = store._conn.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND "
                                  "table_name = 'meta'", (target.schema,)).fetchone()
        if row is None:
            store.close()
            raise EmbkitError(f"collection: no collection {target.name!r} at {target.public()} "
                              "(create one with `embkit init URL`)")
        version = int(store.meta("schema_version"))
        if version > SCHEMA_VERSION:
            store.close()
            raise EmbkitError(f"schema_version: collection {target.name!r} has schema version {version}, newer "
                              f"than this embkit supports ({SCHEMA_VERSION}); upgrade embkit")
        try:
            if version < SCHEMA_VERSION:
                migrate(store)
            elif store.meta(TOKENIZER_KEY) != DESCRIPTION:  # another tokenizer: its terms would not match
                store.rebuild_keyword()
        except EmbkitError:
            store.close()
            raise
        except Exception as e:  # the transaction rolled back: the collection is as it was
            store.close()
            raise EmbkitError(f"schema_version: could not bring collection {target.name!r} from schema version "
                              f"{version} to {SCHEMA_VERSION} with its keyword index ({e}); the collection is "
                              "unchanged") from e
        except BaseException:
            store.close()
            raise
        store.path.mkdir(parents=True, exist_ok=True)
        return store

    def _create_schema(self, c, spaces) -> None:
        q = self._q
        c.execute(q("CREATE SCHEMA {s}"))
        c.execute(q("CREATE TABLE {s}.meta (key text PRIMARY KEY, value text NOT NULL)"))
        c.execute(q("CREATE TABLE {s}.spaces (name text PRIMARY KEY, model text NOT NULL, dim integer NOT NULL "
                    "CHECK (dim > 0), metric text NOT NULL CHECK (metric IN ('cosine', 'dot', 'l2')), "
                    "normalized boolean NOT NULL)"))
        c.execute(q("CREATE TABLE {s}.docs (rowid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                    "id text NOT NULL UNIQUE, text text, metadata jsonb NOT NULL DEFAULT '{{}}')"))
        c.execute(q("CREATE TABLE {s}.changes (generation bigint NOT NULL, doc bigint NOT NULL, "
                    "PRIMARY KEY (generation, doc))"))
        c.execute(q("INSERT INTO {s}.meta VALUES ('schema_version', %s), ('generation', '0'), "
                    "('changes_from', '0'), (%s, %s)"), (str(SCHEMA_VERSION), IDENTITY_KEY, uuid.uuid4().hex))
        self._create_keyword(c)
        for space in spaces:
            self._create_space(c, space)

    def _create_space(self, c, space) -> None:
        c.execute(self._q("INSERT INTO {s}.spaces VALUES (%s, %s, %s, %s, %s)"),
                  (space.name, space.model, space.dim, space.metric, space.normalized))
        c.execute(self._q("CREATE TABLE {s}.{v} (doc bigint PRIMARY KEY REFERENCES {s}.docs (rowid) "
                          "ON DELETE CASCADE, embedding vector({dim}) NOT NULL)", space.name,
                          dim=self._sql.Literal(space.dim)))

    def check_writable(self) -> None:
        """Nothing to check here: see `read_only`."""

    def close(self) -> None:
        for conn in [self._conn, *self._readers]:
            try:
                conn.close()
            except Exception:  # closing is best effort: the server may be gone
                pass
        self._readers.clear()

    @property
    def location(self) -> str:
        return self.url.public()

    # ---- SQL plumbing ----------------------------------------------------------------

    def _q(self, text: str, space: str | None = None, **extra):
        """A statement with {s} (this collection's schema) and {v} (a space's vector
        table) filled in as quoted identifiers."""
        names = {"s": self._sql.Identifier(self.url.schema), **extra}
        if space is not None:
            names["v"] = self._sql.Identifier("vec_" + space)
        return self._sql.SQL(text).format(**names)

    def _reader(self):
        """This thread's read connection: the replica when there is one, else the primary."""
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            conn = connect(self.url.read_url or self.url.conninfo, field="read_url" if self.url.read_url else "url")
            self._local.conn = conn
            with self._lock:
                self._readers.append(conn)
        return conn

    def _read(self, text: str, params=(), space: str | None = None, binary: bool = False, **extra):
        return self._reader().execute(self._q(text, space, **extra), params, binary=binary)

    def _transaction(self):
        return _Transaction(self)

    # ---- for the index layer (index/pgvector.py keeps its index in this database) ------

    @property
    def schema(self) -> str:
        """This collection's PostgreSQL schema."""
        return self.url.schema

    def statement(self, text: str, space: str | None = None, **extra):
        """A statement with {s} (the schema) and {v} (`space`'s vector table) filled in."""
        return self._q(text, space, **extra)

    def read_connection(self):
        """This thread's read connection (the replica when there is one)."""
        return self._reader()

    def transaction(self):
        """A transaction on the primary, one at a time per store: `with store.transaction() as conn`."""
        return self._transaction()

    # ---- reading -------------------------------------------------------------------

    def spaces(self):
        spaces = self._spaces  # one read: another thread's forget_spaces may clear it meanwhile
        if spaces is None:  # changed only by add_space
            rows = self._read("SELECT name, model, dim, metric, normalized FROM {s}.spaces").fetchall()
            spaces = self._spaces = {r[0]: Space(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows}
        return dict(spaces)

    def meta(self, key: str) -> str | None:
        row = self._read("SELECT value FROM {s}.meta WHERE key = %s", (key,)).fetchone()
        return row[0] if row else None

    def add_space(self, space) -> None:
        """A new vector space and its table, in one transaction."""
        if space.name in self.spaces():
            raise EmbkitError(f"name: the collection has a space {space.name!r} already")
        with self._transaction() as c:
            self._create_space(c, space)
        self._spaces = None

    def set_meta(self, key: str, value: str | None) -> None:
        with self._transaction() as c:
            if value is None:
                c.execute(self._q("DELETE FROM {s}.meta WHERE key = %s"), (key,))
            else:
                c.execute(self._q("INSERT INTO {s}.meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE "
                                  "SET value = excluded.value"), (key, value))

    @property
    def generation(self) -> int:
        return int(self.meta("generation"))

    def settled(self) -> contextlib.nullcontext:
        """Nothing to wait for: each read sees only committed writes (its own transaction)."""
        return contextlib.nullcontext()

    @property
    def identity(self) -> str | None:
        """The collection's UUID, which its local caches record (a cache left by another
        collection of the same name is rebuilt); made on first use for a collection
        created before identities, read from the primary; None where it cannot be written.
        Read once per store: it never changes, and every cache load and save asks."""
        if self._identity is None:
            self._identity = self._read_identity()
        return self._identity

    def _read_identity(self) -> str | None:
        import psycopg

        value = self.meta(IDENTITY_KEY)
        if value is None:
            try:
                with self._transaction() as c:
                    c.execute(self._q("INSERT INTO {s}.meta VALUES (%s, %s) ON CONFLICT (key) DO NOTHING"),
                              (IDENTITY_KEY, uuid.uuid4().hex))
                    value = c.execute(self._q("SELECT value FROM {s}.meta WHERE key = %s"),
                                      (IDENTITY_KEY,)).fetchone()[0]
            except (psycopg.Error, EmbkitError):  # a read-only role or server: no identity to check against
                return None
        return value

    def count(self, where: dict | None = None) -> int:
        sql, params = _where(where)
        return self._read("SELECT count(*) FROM {s}.docs WHERE " + _braces(sql), params).fetchone()[0]

    def count_documents(self, where: dict | None = None) -> int:
        """Distinct documents among the records (matching `where`): a record's string
        `parent` names its document, else the record is one by itself."""
        sql, params = _where(where)
        return self._read("SELECT count(DISTINCT CASE WHEN jsonb_typeof(metadata -> 'parent') = 'string' "
                          "THEN metadata ->> 'parent' ELSE id END) FROM {s}.docs WHERE " + _braces(sql),
                          params).fetchone()[0]

    def filter_warnings(self, where: dict | None) -> list[str]:
        """What a (validated) filter names that no document has (see where_fields)."""
        from .where_fields import named_fields, presence_query, warnings_from
        from .where_pg import POSTGRES

        checks, sql, params = presence_query(named_fields(where), POSTGRES, table="{s}.docs")
        return warnings_from(checks, self._read(sql, params).fetchone()) if checks else []

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        return self._existing(self._reader(), ids)

    def _existing(self, conn, ids: Sequence[str]) -> set[str]:
        rows = conn.execute(self._q("SELECT id FROM {s}.docs WHERE id = ANY(%s)"), (_storable(ids),)).fetchall()
        return {r[0] for r in rows}

    def refuse_existing(self, ids: Sequence[str]) -> None:
        refuse_taken_ids(ids, self.existing_ids(ids))

    def get(self, ids: Sequence[str]) -> list:
        rows = self._read("SELECT rowid, id, text, metadata FROM {s}.docs WHERE id = ANY(%s)", (_storable(ids),))
        by_id = {r[1]: _record(r) for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    def find(self, where: dict | None = None, limit: int | None = None, offset: int = 0) -> list:
        sql, params = _where(where)
        tail = " LIMIT %s OFFSET %s" if limit is not None else ""
        args = [*params, *([limit, offset] if limit is not None else [])]
        rows = self._read("SELECT rowid, id, text, metadata FROM {s}.docs WHERE " + _braces(sql) +
                          " ORDER BY rowid" + tail, args)
        return [_record(r) for r in rows]

    def by_rowids(self, rowids: Iterable[int]) -> dict:
        wanted = [int(r) for r in rowids]
        rows = self._read("SELECT rowid, id, text, metadata FROM {s}.docs WHERE rowid = ANY(%s)", (wanted,))
        return {r[0]: _record(r) for r in rows}

    search_records = by_rowids  # psycopg decodes the jsonb column as it reads it

    def search_rows(self, rowids: list[int]) -> dict[int, tuple[str, str | None, str]]:
        """{row id: (id, text, metadata JSON text)} of a plain search's hits, as SQLiteStore's
        (the jsonb as text: the hit decodes the metadata itself; rows not stored left out)."""
        rows = self._read("SELECT rowid, id, text, metadata::text FROM {s}.docs WHERE rowid = ANY(%s)",
                          ([int(r) for r in rowids],))
        return {row[0]: row[1:] for row in rows}

    def rowids(self, where: dict | None = None) -> np.ndarray:
        sql, params = _where(where)
        rows = self._read("SELECT rowid FROM {s}.docs WHERE " + _braces(sql) + " ORDER BY rowid", params).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def vectors(self, space: str, rowids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        dim = self.spaces()[space].dim
        if rowids is None:
            rows = self._read("SELECT doc, embedding FROM {s}.{v} ORDER BY doc", (), space, binary=True).fetchall()
        else:
            rows = self._read("SELECT doc, embedding FROM {s}.{v} WHERE doc = ANY(%s) ORDER BY doc",
                              ([int(r) for r in rowids],), space, binary=True).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=">f4").astype(np.float32)
        return ids, matrix.reshape(len(rows), dim)

    def size_bytes(self) -> int:
        row = self._read("SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                         "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
                         (self.url.schema,)).fetchone()
        return int(row[0])

    def vacuum(self, wait: bool = True) -> bool:
        """VACUUM (FULL, ANALYZE) of each of the collection's tables (`compact`): rewritten
        without dead rows, their indexes rebuilt. Outside any transaction, as PostgreSQL
        requires; each table is locked while it is rewritten, so `wait` is always True."""
        from psycopg import sql

        self.check_writable()
        with self._lock:
            if self._conn.closed or self._conn.broken:  # the server restarted: reconnect
                self._conn = connect(self.url.conninfo)
            tables = [r[0] for r in self._conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s "
                                                       "ORDER BY tablename", (self.url.schema,))]
            for table in tables:
                self._conn.execute(sql.SQL("VACUUM (FULL, ANALYZE) {}.{}").format(
                    sql.Identifier(self.url.schema), sql.Identifier(table)))
        return True

    def integrity_problems(self) -> list[str]:
        """What `embkit check` can verify of the tables (PostgreSQL checks its own pages):
        every table present, no vector without its document, no change logged ahead."""
        tables = {"meta", "spaces", "docs", "changes", *KEYWORD_TABLES, *("vec_" + name for name in self.spaces())}
        found = {r[0] for r in self._read("SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                                          (self.url.schema,))}
        problems = [f"table {name} is missing" for name in sorted(tables - found)]
        if problems:
            return problems
        for name in self.spaces():
            orphans = self._read("SELECT count(*) FROM {s}.{v} v LEFT JOIN {s}.docs d ON d.rowid = v.doc "
                                 "WHERE d.rowid IS NULL", (), name).fetchone()[0]
            if orphans:
                problems.append(f"vec_{name}: {orphans} vectors of no document")
        ahead = self._read("SELECT max(generation) FROM {s}.changes").fetchone()[0]
        if ahead is not None and ahead > self.generation:
            problems.append(f"changes: logged generation {ahead} is ahead of the store's {self.generation}")
        return problems

    def vector_blobs(self, space: str, batch: int = 10_000):
        """Every stored vector of `space` as (row id, little-endian float32 bytes) pairs,
        a batch (list) at a time, as SQLite's store gives them for `embkit check`."""
        last = -1
        while True:
            rows = self._read("SELECT doc, embedding FROM {s}.{v} WHERE doc > %s ORDER BY doc LIMIT %s",
                              (last, batch), space, binary=True).fetchall()
            if not rows:
                return
            yield [(r[0], np.frombuffer(r[1], dtype=">f4").astype("<f4").tobytes()) for r in rows]
            last = rows[-1][0]

    # ---- writing -------------------------------------------------------------------

    def write(self, records, space: str, vectors: np.ndarray, upsert: bool, documents: Sequence[str] = ()) -> None:
        """As SQLiteStore.write: one transaction, removing what `documents` held that
        this batch did not write (an older version's chunks)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        ids = [r.id for r in records]
        for field, values in (("ids", ids), ("texts", [r.text for r in records]),
                              ("metadatas", [r.metadata for r in records])):
            _refuse_nul(field, values)
        with self._transaction() as c:
            generation = self._bump(c)  # takes the row lock: one writer at a time, across processes
            follower = self.followers_of(c, space)  # a space being re-embedded from this one, if any
            if not upsert:
                refuse_taken_ids(ids, self._existing(c, ids))
            rows = c.execute(self._q(
                "INSERT INTO {s}.docs (id, text, metadata) SELECT * FROM unnest(%s::text[], %s::text[], "
                "%s::jsonb[]) ON CONFLICT (id) DO UPDATE SET text = excluded.text, metadata = excluded.metadata "
                "RETURNING id, rowid"),
                (ids, [r.text for r in records],
                 [pg_json.dumps(r.metadata) for r in records])).fetchall()
            rowid_of = dict(rows)
            if upsert:  # a replaced text's postings go first
                self._keyword_remove(c, list(rowid_of.values()))
            self._keyword_add(c, [(rowid_of[r.id], r.text) for r in records])
            with c.cursor() as cur:
                cur.executemany(self._q("INSERT INTO {s}.{v} (doc, embedding) VALUES (%s, %s) ON CONFLICT (doc) "
                                        "DO UPDATE SET embedding = excluded.embedding", space),
                                [(rowid_of[i], v) for i, v in zip(ids, vectors)])
            if follower is not None:  # their new-space vectors came from the old texts: embedded again
                c.execute(self._q("DELETE FROM {s}.{v} WHERE doc = ANY(%s)", follower), (list(rowid_of.values()),))
            self._log(c, generation, list(rowid_of.values()))
            if documents:
                wanted = set(documents)  # whole documents, and their chunks (types.part_of)
                stale = [r for r, doc_id, parent in c.execute(self._q(
                    "SELECT rowid, id, metadata ->> 'parent' FROM {s}.docs WHERE id = ANY(%s) OR "
                    "(jsonb_typeof(metadata -> 'parent') = 'string' AND metadata ->> 'parent' = ANY(%s))"),
                    (list(documents), list(documents)))
                    if doc_id not in rowid_of and (doc_id in wanted or part_of(doc_id, parent, parent))]
                if stale:
                    self._log(c, generation, stale)
                    self._keyword_remove(c, stale)
                    c.execute(self._q("DELETE FROM {s}.docs WHERE rowid = ANY(%s)"), (stale,))

    def merge_metadata(self, patches: dict[int, dict]) -> None:
        rows = {int(r): dict(p) for r, p in patches.items()}
        _refuse_nul("patches", list(rows.values()))
        with self._transaction() as c:
            found = {r[0] for r in c.execute(self._q("SELECT rowid FROM {s}.docs WHERE rowid = ANY(%s) FOR UPDATE"),
                                             (list(rows),))}
            missing = [r for r in rows if r not in found]
            if missing:
                raise EmbkitError(f"rowids: {len(missing)} rows do not exist (first: {missing[0]})")
            with c.cursor() as cur:
                cur.executemany(self._q("UPDATE {s}.docs SET metadata = (metadata || %s::jsonb) - %s::text[] "
                                        "WHERE rowid = %s"),
                                [(pg_json.dumps({k: v for k, v in p.items() if v is not None}),
                                  [k for k, v in p.items() if v is None], r)
                                 for r, p in rows.items()])

    def delete(self, ids: Sequence[str] | None = None, where: dict | None = None) -> int:
        sql, params = _where(where)
        with self._transaction() as c:
            if ids is not None:
                found = c.execute(self._q("SELECT rowid FROM {s}.docs WHERE id = ANY(%s) AND " + _braces(sql)),
                                  (_storable(ids), *params)).fetchall()
            else:
                found = c.execute(self._q("SELECT rowid FROM {s}.docs WHERE " + _braces(sql)), params).fetchall()
            rowids = [r[0] for r in found]
            if rowids:
                self._log(c, self._bump(c), rowids)
                self._keyword_remove(c, rowids)
                c.execute(self._q("DELETE FROM {s}.docs WHERE rowid = ANY(%s)"), (rowids,))
        return len(rowids)

    def changed_since(self, generation: int) -> np.ndarray | None:
        if generation < int(self.meta("changes_from")):
            return None
        rows = self._read("SELECT DISTINCT doc FROM {s}.changes WHERE generation > %s", (generation,)).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def prune_changes(self, upto: int) -> None:
        with self._transaction() as c:
            c.execute(self._q("DELETE FROM {s}.changes WHERE generation <= %s"), (upto,))
            c.execute(self._q("UPDATE {s}.meta SET value = %s WHERE key = 'changes_from' AND value::bigint < %s"),
                      (str(upto), upto))

    def _bump(self, c) -> int:
        return int(c.execute(self._q("UPDATE {s}.meta SET value = (value::bigint + 1)::text WHERE key = "
                                     "'generation' RETURNING value")).fetchone()[0])

    def _log(self, c, generation: int, rowids: list[int]) -> None:
        c.execute(self._q("INSERT INTO {s}.changes SELECT %s, unnest(%s::bigint[]) ON CONFLICT DO NOTHING"),
                  (generation, rowids))


class _Transaction:
    """One transaction on the primary connection (one at a time per store)."""

    def __init__(self, store: PostgresStore):
        self._store = store

    def __enter__(self):
        self._store._lock.acquire()
        try:
            if self._store._conn.closed or self._store._conn.broken:  # the server restarted: reconnect
                self._store._conn = connect(self._store.url.conninfo)
            self._tx = self._store._conn.transaction()
            self._tx.__enter__()
        except BaseException:
            self._store._lock.release()
            raise
        return self._store._conn

    def __exit__(self, kind, exc, tb):
        import psycopg

        try:
            handled = self._tx.__exit__(kind, exc, tb)  # rolls back on any exception
        finally:
            self._store._lock.release()
        if isinstance(exc, psycopg.DataError):  # a value the database refused: bad input, nothing written
            raise EmbkitError(f"postgresql: {str(exc).strip().splitlines()[0]}") from exc
        if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):  # the URL names a replica
            raise EmbkitError(READ_ONLY.format(field="url")) from exc
        return handled


def _where(where: dict | None) -> tuple[str, list]:
    from .where_pg import compile_where_pg

    return compile_where_pg(where)


def _braces(sql: str) -> str:
    """A compiled filter placed inside a statement that is formatted for identifiers."""
    return sql.replace("{", "{{").replace("}", "}}")


def _refuse_nul(field: str, values: list) -> None:
    """PostgreSQL text and jsonb cannot hold U+0000: refuse it by name before writing
    (SQLite stores it)."""
    for i, value in enumerate(values):
        if _has_nul(value):
            raise EmbkitError(f"{field}[{i}]: PostgreSQL cannot store the NUL character (U+0000)")


def _storable(ids: Sequence[str]) -> list[str]:
    """The ids that could be stored: one holding NUL is in no table (and no query may hold it)."""
    return [i for i in ids if "\x00" not in i]


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


def _record(row):
    metadata = row[3] if isinstance(row[3], dict) else json.loads(row[3])
    return Record(id=row[1], text=row[2], metadata=metadata, rowid=row[0])
