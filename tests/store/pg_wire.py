"""Counting what a PostgreSQL store sends to the server (a plain module for tests):
libpq's own protocol trace (PQtrace) of every connection the store holds, so the count
is of the messages on the wire, not of calls in Python.

    with Wire(store) as wire:
        col.search(...)
    wire.statements  # Execute (extended protocol) + Query (simple protocol) messages
    wire.round_trips  # Sync + Query messages: each waits for the server's ReadyForQuery
"""

import os
import tempfile

from psycopg import pq


class Wire:
    """The messages a store's connections (primary and this thread's reader) send while
    the `with` block runs."""

    def __init__(self, store):
        self.conns = [store._conn, store.read_connection()]
        self.lines: list[str] = []

    def __enter__(self) -> "Wire":
        self._files = []
        for conn in self.conns:
            fd, path = tempfile.mkstemp(prefix="embkit-wire-")
            conn.pgconn.trace(fd)
            conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
            self._files.append((fd, path))
        return self

    def __exit__(self, *exc) -> None:
        for conn, (_, path) in zip(self.conns, self._files):
            conn.pgconn.untrace()
            with open(path, encoding="utf-8", errors="replace") as f:
                self.lines += [line for line in f.read().splitlines() if line.startswith("F\t")]
            os.unlink(path)

    def _sent(self, *kinds: str) -> list[str]:
        return [line for line in self.lines if line.split("\t")[2].split(" ")[0] in kinds]

    @property
    def statements(self) -> int:
        return len(self._sent("Execute", "Query"))

    @property
    def round_trips(self) -> int:
        return len(self._sent("Sync", "Query"))

    def texts(self) -> list[str]:
        """The SQL sent (Parse and Query messages), for a failing assertion's message."""
        return [line.split("\t", 3)[3][:160] for line in self._sent("Parse", "Query")]
