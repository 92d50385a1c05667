"""The SQLite store's `meta` table as last read, kept until the database changes.

Every search asks for the store's generation (is the index caught up?) and the
reembed bookkeeping (has a switch replaced this space?): four statements a search. A
stamp tells whether anything was written since a read with one PRAGMA (a SQLite store's,
sqlite_connections.stamp: equal across its threads' connections for one state; or one
connection's, filter_cache.stamp), so the table is read again only after a write, by
this process or another."""

import sqlite3
from typing import Callable

from . import filter_cache


class MetaCache:
    """{key: value} of `meta`, valid for one stamp."""

    def __init__(self, stamp: Callable = filter_cache.stamp):
        self._kept: tuple[tuple[int, int], dict[str, str]] | None = None
        self._stamp = stamp  # connection -> the database's state as it sees it, None inside a write

    def values(self, conn: sqlite3.Connection) -> dict[str, str]:
        """Every meta value as the database holds it now (read-only: callers copy)."""
        stamp = self._stamp(conn)
        kept = self._kept
        if stamp is not None and kept is not None and kept[0] == stamp:
            return kept[1]
        values = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        if stamp is not None and self._stamp(conn) == stamp:  # no write began or landed meanwhile
            self._kept = (stamp, values)
        return values
