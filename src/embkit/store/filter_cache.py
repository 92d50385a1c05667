"""The row ids of recent `where` filters, reused until the database changes: a query
cache, as Lucene keeps one for its filters.

A filtered search first asks SQL for the matching rows: ~3 ms for 1,000 of 100,000
rows through a field index, ~30 ms at a million, on every search. The same filter asked
again before any write gets the same array back from here. An entry holds for one state
of the database, its stamp: (own changes, others' commits). A SQLite store's threads each
read on a connection of their own, so its stamp is the store's (sqlite_connections.stamp:
the writes it completed, and the commits of other connections and processes counted);
`stamp` here is one connection's (`total_changes`, which moves with every row it inserts,
updates or deletes, and `PRAGMA data_version`, with every commit of another connection).
A result is kept only if the stamp did not move while its SQL ran and no write was open
(None: its rows could still be rolled back).

After a write of this store's own (an add, an upsert, a delete), an entry is
brought up to date instead of computed again: every such write logs the rows it touched
in the store's change log, so the filter is tested on those rows only (`refresh`). A
metadata merge logs nothing: it empties the cache (`forget`). A commit by another
connection, or a log that no longer reaches back, means computing the filter again.
"""

import json
import sqlite3
import threading
from collections import OrderedDict

import numpy as np

MAX_ENTRIES = 64  # filters remembered, least recently used forgotten first
MAX_ROWS = 4_000_000  # row ids held in all (32 MB): a bigger result is not kept
REFRESH_LIMIT = 10_000  # changed rows an entry is brought up to date for; more: the filter runs again


def stamp(conn: sqlite3.Connection) -> tuple[int, int] | None:
    """One connection's view of the database's state, or None inside a transaction."""
    if conn.in_transaction:
        return None
    state = conn.total_changes, conn.execute("PRAGMA data_version").fetchone()[0]
    return None if conn.in_transaction else state  # a write another thread began meanwhile


class FilterCache:
    """Row-id arrays (sorted, read-only) by filter, each valid for one stamp and the
    store generation it was read at."""

    def __init__(self):
        self._entries: OrderedDict[str, tuple[tuple[int, int], int, np.ndarray]] = OrderedDict()
        self._rows = 0
        self._floor = 0  # entries stamped below this count of changes are never refreshed (see forget)
        self._lock = threading.Lock()  # searches in several threads share one store

    @staticmethod
    def key(where: dict | None) -> str | None:
        """The filter as canonical JSON (key order does not matter, 1 and 1.0 differ);
        None for one that is not plain JSON (then it is not cached)."""
        try:
            return json.dumps(where, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError):
            return None

    def get(self, key: str | None, now: tuple[int, int] | None) -> np.ndarray | None:
        """The rows stored for `key` at the stamp `now`, or None."""
        if key is None or now is None:
            return None
        with self._lock:
            found = self._entries.get(key)
            if found is None or found[0] != now:
                return None
            self._entries.move_to_end(key)
            return found[2]

    def outdated(self, key: str | None, now: tuple[int, int] | None) -> tuple[int, np.ndarray] | None:
        """(generation, rows) of an entry `refresh` can bring up to `now`: one made on
        an earlier state of this store's own, with no other connection's commit since."""
        if key is None or now is None:
            return None
        with self._lock:
            found = self._entries.get(key)
        if found is None or found[0][1] != now[1] or not self._floor <= found[0][0] <= now[0]:
            return None
        return found[1], found[2]

    def put(self, key: str | None, before, after, generation: int, rowids: np.ndarray) -> np.ndarray:
        """Remember `rowids` (sorted here) read at `generation`, if the stamp held from
        `before` to `after`; returns them, read-only either way (callers must not sort
        them in place)."""
        rowids = np.sort(rowids)
        rowids.flags.writeable = False
        if key is None or before is None or before != after or len(rowids) > MAX_ROWS // 4:
            return rowids
        with self._lock:
            old = self._entries.pop(key, None)
            self._rows -= len(old[2]) if old is not None else 0
            self._entries[key] = (before, generation, rowids)
            self._rows += len(rowids)
            while len(self._entries) > MAX_ENTRIES or self._rows > MAX_ROWS:
                self._rows -= len(self._entries.popitem(last=False)[1][2])
        return rowids

    def forget(self, floor: int) -> None:
        """Drop every entry: rows changed without a trace in the change log, up to the
        stamp's count of own changes `floor`. An entry still on its way in (its SQL ran
        before) is stamped below it, so it is never refreshed from the log either."""
        with self._lock:
            self._entries.clear()
            self._rows, self._floor = 0, floor


def refresh(rows: np.ndarray, changed: np.ndarray, matching: np.ndarray) -> np.ndarray:
    """`rows` after a change: the `changed` rows out, those of them still `matching` in."""
    return np.union1d(rows[~np.isin(rows, changed)], matching)
