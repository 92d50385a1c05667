"""What a re-embedding (maintenance/reembed.py) needs from the PostgreSQL store: the
same operations as sqlite_reembed.py, sharing its steps (reembed_steps.py), with one
vector table a space. Every transaction here first locks the `generation` row, as `write` does, so
they and writers take turns (a text checked here cannot change before commit)."""

import json
from typing import Callable, Sequence

import numpy as np

from ..errors import EmbkitError
from .reembed_steps import ALIASES, REEMBEDS, SUPERSEDED, SpaceBook, embed_the_rest


class PgReembed:
    """Mixed into PostgresStore (uses its `_q`, `_read`, `_transaction`, `_create_space`)."""

    def space_state(self) -> dict[str, dict]:
        """{"reembeds": …, "space_aliases": …, "superseded": …} as stored (one statement:
        every search asks, to follow a switch another process made)."""
        keys = (REEMBEDS, ALIASES, SUPERSEDED)
        stored = dict(self._read("SELECT key, value FROM {s}.meta WHERE key = ANY(%s)", (list(keys),)).fetchall())
        return {key: json.loads(stored.get(key) or "{}") for key in keys}

    def forget_spaces(self) -> None:
        """Drop the cached spaces: another process may have added one (a reembed)."""
        self._spaces = None

    def followers_of(self, c, space: str) -> str | None:
        """Within a write transaction (generation row locked): the space being built
        from `space`, or None; refuses a write into a space that another one replaced."""
        return self._book(c).follower_of(space)

    def start_reembed(self, source: str, space) -> None:
        """Create `space` (its vector table) and record that it is being built from `source`."""
        with self._transaction() as c:
            self._lock_writers(c)  # then a second reembed started at the same time finds this one's space
            if c.execute(self._q("SELECT 1 FROM {s}.spaces WHERE name = %s"), (space.name,)).fetchone():
                raise EmbkitError(f"name: the collection has a space {space.name!r} already")
            self._create_space(c, space)
            self._book(c).started(source, space.name)
        self._spaces = None

    def missing_vectors(self, source: str, target: str, after: int = 0,
                        limit: int = -1) -> list[tuple[int, str | None]]:
        """(row id, text) of documents with a vector in `source` and none in `target`,
        row ids above `after`, in row order, at most `limit` (-1: all)."""
        return self._missing(self._reader(), source, target, after, limit)

    def count_missing(self, source: str, target: str | None) -> int:
        """How many documents have a vector in `source` and none in `target` (None: all of `source`'s)."""
        if target is None:
            return self._read("SELECT count(*) FROM {s}.{v}", (), source).fetchone()[0]
        return self._read("SELECT count(*) FROM {s}.{v} src "
                          "WHERE NOT EXISTS (SELECT 1 FROM {s}.{t} WHERE doc = src.doc)",
                          (), source, t=self._sql.Identifier("vec_" + target)).fetchone()[0]

    def add_vectors(self, space: str, rows: Sequence[tuple[int, str | None]], vectors: np.ndarray) -> int:
        """Store `vectors` in `space` for rows that still hold the text they were embedded
        from, in one transaction, without moving the generation. Returns how many."""
        with self._transaction() as c:
            self._lock_writers(c)
            return self._add_vectors(c, space, rows, vectors)

    def switch_space(self, alias: str, source: str, target: str, embed: Callable[[list[str]], np.ndarray]) -> int:
        """In one transaction: embed the documents of `source` still missing from
        `target`, make `alias` mean `target`, mark `source` superseded."""
        with self._transaction() as c:
            self._lock_writers(c)
            written = embed_the_rest(self._missing(c, source, target, 0, -1), source,
                                     lambda rows, vectors: self._add_vectors(c, target, rows, vectors), embed)
            self._book(c).switched(alias, source, target)
        return written

    def drop_space(self, name: str) -> None:
        """Remove a space (its vector table and index), its settings and any reembed
        building it, in one transaction."""
        with self._transaction() as c:
            self._lock_writers(c)
            c.execute(self._q("DROP TABLE IF EXISTS {s}.{v}", name))
            c.execute(self._q("DELETE FROM {s}.spaces WHERE name = %s"), (name,))
            c.execute(self._q("DELETE FROM {s}.meta WHERE key = ANY(%s)"),
                      (["index_spec:" + name, "index_budget:" + name],))
            self._book(c).dropped(name)
        self._spaces = None

    # ---- plumbing ------------------------------------------------------------------------

    def _book(self, c) -> SpaceBook:
        return SpaceBook(lambda key: self._meta_json(c, key), lambda key, value: self._set_meta_json(c, key, value))

    def _lock_writers(self, c) -> None:
        c.execute(self._q("SELECT value FROM {s}.meta WHERE key = 'generation' FOR UPDATE"))

    def _meta_json(self, c, key: str) -> dict:
        row = c.execute(self._q("SELECT value FROM {s}.meta WHERE key = %s"), (key,)).fetchone()
        return json.loads(row[0]) if row else {}

    def _set_meta_json(self, c, key: str, value: dict) -> None:
        if value:
            c.execute(self._q("INSERT INTO {s}.meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = "
                              "excluded.value"), (key, json.dumps(value, sort_keys=True)))
        else:
            c.execute(self._q("DELETE FROM {s}.meta WHERE key = %s"), (key,))

    def _missing(self, conn, source: str, target: str, after: int, limit: int) -> list[tuple[int, str | None]]:
        rows = conn.execute(self._q(
            "SELECT d.rowid, d.text FROM {s}.docs d JOIN {s}.{v} src ON src.doc = d.rowid WHERE d.rowid > %s "
            "AND NOT EXISTS (SELECT 1 FROM {s}.{t} WHERE doc = d.rowid) ORDER BY d.rowid LIMIT %s", source,
            t=self._sql.Identifier("vec_" + target)), (after, None if limit < 0 else limit)).fetchall()
        return [(r[0], r[1]) for r in rows]

    def _add_vectors(self, c, space: str, rows, vectors: np.ndarray) -> int:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        written = 0
        for (rowid, text), vector in zip(rows, vectors):
            written += c.execute(self._q(
                "INSERT INTO {s}.{v} (doc, embedding) SELECT rowid, %s FROM {s}.docs WHERE rowid = %s AND text IS NOT "
                "DISTINCT FROM %s ON CONFLICT (doc) DO UPDATE SET embedding = excluded.embedding", space),
                (vector, rowid, text)).rowcount
        return written
