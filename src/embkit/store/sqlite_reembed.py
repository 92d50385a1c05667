"""What a re-embedding (maintenance/reembed.py) needs from the SQLite store: a new
space filled beside the old one, then an alias switched in one transaction. The steps
both stores share (the bookkeeping in `meta`, the switch) are in reembed_steps.py."""

import json
import sqlite3
from typing import Callable, Sequence

import numpy as np

from ..errors import EmbkitError
from .reembed_steps import ALIASES, REEMBEDS, SUPERSEDED, SpaceBook, embed_the_rest, refuse_textless

__all__ = ["SQLiteReembed", "followers_of", "meta_json", "refuse_textless", "REEMBEDS", "ALIASES", "SUPERSEDED"]


def meta_json(c: sqlite3.Connection, key: str) -> dict:
    """A JSON object kept in `meta` ({} when absent)."""
    row = c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else {}


def _set_meta_json(c: sqlite3.Connection, key: str, value: dict) -> None:
    if value:
        c.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, sort_keys=True)))
    else:
        c.execute("DELETE FROM meta WHERE key = ?", (key,))


def _book(c: sqlite3.Connection) -> SpaceBook:
    return SpaceBook(lambda key: meta_json(c, key), lambda key, value: _set_meta_json(c, key, value))


def followers_of(c: sqlite3.Connection, space: str) -> str | None:
    """Within a write transaction: the space being built from `space` (or None);
    refuses a write into a space that another one replaced."""
    return _book(c).follower_of(space)


class SQLiteReembed:
    """Mixed into SQLiteStore (uses its `_read`, `_meta` and `_write`). Reads go through `_read`:
    the thread's read connection, or inside its own write the write connection; never the
    write connection otherwise (another thread's write is open there, its error code theirs)."""

    # (the MetaCache's values it was parsed from, the state): every search asks, nothing changed
    _state_kept: tuple[dict, dict] | None = None

    def space_state(self) -> dict[str, dict]:
        """{"reembeds": …, "space_aliases": …, "superseded": …} as stored (every search and
        add asks: read from the store's MetaCache, one PRAGMA while nothing changed).

        Served from the MetaCache once before, adds in a two-worker server failed with
        "database is locked" 500s, and reading the table each time hid it. The cause was not
        the cache: an add, while it prepares outside the store's lock, asks this; the cache's
        PRAGMA data_version (and its SELECT of the whole table) return a row, so they hold a
        read transaction on the shared connection between steps, and another thread's BEGIN
        IMMEDIATE in that window failed at once (SQLITE_BUSY_SNAPSHOT after the other worker
        committed, SQLITE_BUSY while it held the lock). The three lookups by key found no
        row, ended within one step and left no window. Fixed where the write begins:
        sqlite_busy.begin_immediate waits for such a read to end (tests/store/test_busy_begin.py)."""
        values = self._meta.values(self._read())
        kept = self._state_kept
        if kept is None or kept[0] is not values:  # the MetaCache read the table again: parse it again
            kept = self._state_kept = (values, {key: json.loads(values[key]) if key in values else {}
                                                for key in (REEMBEDS, ALIASES, SUPERSEDED)})
        return {key: dict(names) for key, names in kept[1].items()}  # {name: name}: callers get their own

    def start_reembed(self, source: str, space) -> None:
        """Create `space` and record that it is being built from `source`, in one transaction."""
        with self._write() as c:
            if c.execute("SELECT 1 FROM spaces WHERE name = ?", (space.name,)).fetchone():
                raise EmbkitError(f"name: the collection has a space {space.name!r} already")
            c.execute("INSERT INTO spaces VALUES (?, ?, ?, ?, ?)",
                      (space.name, space.model, space.dim, space.metric, int(space.normalized)))
            _book(c).started(source, space.name)

    def missing_vectors(self, source: str, target: str, after: int = 0,
                        limit: int = -1) -> list[tuple[int, str | None]]:
        """(row id, text) of documents with a vector in `source` and none in `target`,
        row ids above `after`, in row order, at most `limit` (-1: all)."""
        return _missing(self._read(), source, target, after, limit)

    def count_missing(self, source: str, target: str | None) -> int:
        """How many documents have a vector in `source` and none in `target` (None: all of `source`'s)."""
        if target is None:
            return self._read().execute("SELECT count(*) FROM vectors WHERE space = ?", (source,)).fetchone()[0]
        return self._read().execute(
            "SELECT count(*) FROM docs WHERE EXISTS (SELECT 1 FROM vectors WHERE doc = docs.rowid AND space = ?) "
            "AND NOT EXISTS (SELECT 1 FROM vectors WHERE doc = docs.rowid AND space = ?)",
            (source, target)).fetchone()[0]

    def add_vectors(self, space: str, rows: Sequence[tuple[int, str | None]], vectors: np.ndarray) -> int:
        """Store `vectors` in `space` for existing rows, each only if the row still holds
        the text it was embedded from (a concurrent upsert wins: the row is embedded
        again later), in one transaction. The generation does not move: no index of
        `space` exists while it is built. Returns how many were stored."""
        with self._write() as c:
            return _add_vectors(c, space, rows, vectors)

    def switch_space(self, alias: str, source: str, target: str, embed: Callable[[list[str]], np.ndarray]) -> int:
        """In one transaction: embed (with `embed`) the documents of `source` that still
        have no vector in `target`, make `alias` mean `target`, mark `source` superseded.
        Returns how many were embedded here."""
        with self._write() as c:
            written = embed_the_rest(_missing(c, source, target, 0, -1), source,
                                     lambda rows, vectors: _add_vectors(c, target, rows, vectors), embed)
            _book(c).switched(alias, source, target)
        return written

    def drop_space(self, name: str) -> None:
        """Remove a space, its vectors, its index settings and any reembed building it,
        in one transaction."""
        with self._write() as c:
            c.execute("DELETE FROM vectors WHERE space = ?", (name,))
            c.execute("DELETE FROM spaces WHERE name = ?", (name,))
            c.execute("DELETE FROM meta WHERE key IN (?, ?)", ("index_spec:" + name, "index_budget:" + name))
            _book(c).dropped(name)


def _missing(c: sqlite3.Connection, source: str, target: str, after: int, limit: int) -> list[tuple[int, str | None]]:
    # Walks docs by row id, probing UNIQUE (doc, space) twice per row: no scan of the vectors.
    return c.execute(
        "SELECT rowid, text FROM docs WHERE rowid > ? "
        "AND EXISTS (SELECT 1 FROM vectors WHERE doc = docs.rowid AND space = ?) "
        "AND NOT EXISTS (SELECT 1 FROM vectors WHERE doc = docs.rowid AND space = ?) ORDER BY rowid LIMIT ?",
        (after, source, target, limit)).fetchall()


def _add_vectors(c: sqlite3.Connection, space: str, rows, vectors: np.ndarray) -> int:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    written = 0
    for (rowid, text), vector in zip(rows, vectors):
        written += c.execute("INSERT OR REPLACE INTO vectors (space, doc, vector) SELECT ?, rowid, ? FROM docs "
                             "WHERE rowid = ? AND text IS ?", (space, vector.tobytes(), rowid, text)).rowcount
    return written

