"""A SQLite store's connections: one to write, and one to read per thread.

Writes go through ONE connection, serialized by the writers' lock (`transaction`). Reads
go through a read-only connection of the reading thread's own (`reader`), opened on first
use: in WAL mode each read statement sees exactly the commits made before it began,
whatever another thread has open, and never a write still in progress. A read made by
the writing thread inside its write (it must see its own rows) uses the write connection.

Before, the threads shared one connection: a statement one thread had open held the
read snapshot for all of them (a new search missed a commit made before it began),
another thread's uncommitted rows were read, and another thread's read overwrote the
error code Python reads after a failure, so a failed statement inside a write could go
unnoticed and the rest of the batch be committed statement by statement.

The caches (filter_cache, meta_cache, keyword_cache) ask `stamp` whether the database
changed: `PRAGMA data_version` is per connection (it moves with commits of OTHER
connections, so a reader's moves with this store's own writes too), so a stamp is the
store's: (writes of this store completed, commits by anyone else counted so far), or None
while a write of this store is open. A reader that sees its data_version move asks the
write connection (under the writers' lock, whose data_version moves only with others'
commits) whether anyone else committed. The number last seen is kept per connection: two
connections' data_versions are unrelated, and comparing one with the other's missed commits.

Each connection costs SQLite's page cache (up to 2 MiB, filled as pages are read) and
its statement cache (~100 KiB for a search's statements); the memory map is shared
address space, not memory. Connections of threads that ended are closed when a new
reader is opened; `close` closes every one.
"""

import os
import sqlite3
import threading
import weakref
from contextlib import contextmanager
from typing import Callable

from ..errors import EmbkitError
from .sqlite_busy import begin_immediate, commit

_OPEN: "weakref.WeakSet[Connections]" = weakref.WeakSet()  # to disown after a fork (see _forked)


class Connections:
    """The write connection, the writers' lock, and this store's read connections."""

    def __init__(self, writer: sqlite3.Connection, open_reader: Callable[[], sqlite3.Connection]):
        self.writer, self.lock = writer, threading.RLock()
        self._open_reader = open_reader
        self._local = threading.local()  # .reader: this thread's _Reader
        self._readers: list[tuple[threading.Thread, _Reader]] = []
        # re-entrant: a generator's cleanup (open_read) may run in a GC pass while this thread holds it
        self._readers_lock = threading.RLock()
        self._open: dict[sqlite3.Connection, int] = {}  # statements left open between steps, by connection
        self._writing: int | None = None  # the thread inside a write
        self.writes = 0  # twice the writes completed; odd while one is open
        self.foreign = 0  # counts (at least) the commits of other connections seen
        self._bump_lock = threading.Lock()
        self._begun = False  # a write holds SQLite's lock, so nobody else commits now
        self._writer_state = _state(writer)
        self._closed = self._forked = False
        _OPEN.add(self)

    # ---- reading ---------------------------------------------------------------------

    def reader(self) -> sqlite3.Connection:
        """The connection this thread reads on: inside this thread's write, the write
        connection; else the thread's own read-only one."""
        if self._writing == threading.get_ident():
            return self.writer
        own = getattr(self._local, "reader", None)
        conn = own.conn if own is not None else None  # None: closed for a VACUUM (close_idle_readers)
        return conn if conn is not None else self._new_reader()

    def _new_reader(self) -> sqlite3.Connection:
        self._check_usable()
        if self._closed:
            raise _closed_error()
        conn, own, ended = self._open_reader(), None, []
        with self._readers_lock:
            if not self._closed:  # else close() ran while it opened, and would never close it
                own = _Reader(conn)
                ended = [r for t, r in self._readers if not t.is_alive() and r.conn not in self._open]
                self._readers = [(t, r) for t, r in self._readers if r not in ended]
                self._readers.append((threading.current_thread(), own))
        if own is None:
            conn.close()
            raise _closed_error()
        for old in ended:
            old.conn.close()
        self._local.reader = own
        return conn

    def reader_count(self) -> int:
        """Read connections open (those of threads that ended included, until the next opens)."""
        with self._readers_lock:
            return len(self._readers)

    def stamp(self, conn: sqlite3.Connection) -> tuple[int, int] | None:
        """The store's state as `conn` sees it: (writes, foreign) as above; None while a
        write of this store is open (what is read then may be rolled back or superseded
        at once). Two equal stamps, each taken on any connection, name the same state."""
        writes = self.writes
        if writes & 1 or conn.in_transaction or self._open.get(conn):  # see snapshot, open_read
            return None
        own = getattr(self._local, "reader", None)
        if own is None or own.conn is not conn:  # the write connection (outside a write), or not ours
            self._look_for_others()  # compares the write connection's data_version with the last it saw
        else:  # the data_version last seen is kept per connection: two connections' numbers never compare
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            if version != own.version:  # something committed since this thread looked
                own.version = version
                self._look_for_others()
        return (writes, self.foreign) if self.writes == writes else None

    @contextmanager
    def snapshot(self):
        """Every read of this thread inside is of one committed state (a read transaction
        on its connection; inside its own write, that write's state). Stamps are None
        inside: the caches hold the newest state, which may be past this one."""
        conn = self.reader()
        if conn is self.writer or conn.in_transaction:
            yield
            return
        conn.execute("BEGIN")
        try:
            yield
        finally:
            conn.execute("COMMIT")  # reads only: ends the snapshot

    @contextmanager
    def open_read(self):
        """This thread's connection for a statement left open between steps (a scan read
        in batches): it holds its snapshot meanwhile, so stamps are None until it ends."""
        while True:
            conn = self.reader()
            with self._readers_lock:  # not closed meanwhile for a VACUUM (close_idle_readers)?
                own = getattr(self._local, "reader", None)
                if conn is self.writer or (own is not None and own.conn is conn):
                    self._open[conn] = self._open.get(conn, 0) + 1
                    break
        try:
            yield conn
        finally:  # perhaps in another thread (a generator closed there)
            with self._readers_lock:
                self._open[conn] -= 1
                if not self._open[conn]:
                    del self._open[conn]

    def _look_for_others(self) -> None:
        """Count a commit of another connection, if there was one (or may have been)."""
        if self.lock.acquire(blocking=False):  # the write connection is idle: ask it
            try:
                state = _state(self.writer)
                if state != self._writer_state:
                    self._writer_state = state
                    self._bump()
            finally:
                self.lock.release()
        elif not self._begun:  # a write waits for SQLite's lock: another connection may be committing
            self._bump()

    def _bump(self) -> None:
        with self._bump_lock:
            self.foreign += 1

    # ---- writing ---------------------------------------------------------------------

    @contextmanager
    def transaction(self):
        """BEGIN IMMEDIATE … COMMIT on the write connection, or ROLLBACK on any exception
        (one writer at a time); yields the connection, checked after every statement."""
        self.lock.acquire()
        try:
            self._check_usable()
            self._writing, self.writes = threading.get_ident(), self.writes + 1
            try:
                begin_immediate(self.writer)  # waits for another process's write
                if _state(self.writer) != self._writer_state:  # inside the transaction: anyone's latest commit
                    self._bump()
                self._begun = True
                yield _Checked(self.writer)
                commit(self.writer)  # raises whenever it did not commit (sqlite_busy)
            finally:
                try:
                    if self.writer.in_transaction:
                        self.writer.execute("ROLLBACK")
                    self._writer_state = _state(self.writer)  # this write's own changes are not another's
                finally:  # whatever failed above: the store is not left "writing"
                    self._begun, self._writing, self.writes = False, None, self.writes + 1
        finally:
            self.lock.release()

    def _check_usable(self) -> None:
        if self._forked:
            raise EmbkitError("path: this collection was opened before the process forked (SQLite connections "
                              "must not cross a fork); open it again in this process")

    # ---- closing ---------------------------------------------------------------------

    def close_idle_readers(self) -> None:
        """Close the read connections of threads that ended and this thread's own, if no
        read holds them (none in a snapshot or left open between steps): VACUUM's page size
        change needs the file alone. A live thread's connection is never closed from here:
        a statement it may be running at this moment would crash the process (sqlite3 is not
        safe against a close from another thread mid-statement); its connection keeps the
        file open and the VACUUM refuses, as for another process."""
        me = threading.current_thread()
        with self._readers_lock:
            idle = [r for t, r in self._readers if (t is me or not t.is_alive())
                    and r.conn not in self._open and not r.conn.in_transaction]
            self._readers = [(t, r) for t, r in self._readers if r not in idle]
            conns = [r.conn for r in idle]
            for r in idle:
                r.conn = None
        for conn in conns:
            conn.close()

    def close(self) -> None:
        """Close every connection: every thread's reader, then the write connection (the
        last to close checkpoints the WAL and removes it)."""
        with self._readers_lock:
            readers, self._readers, self._closed = self._readers, [], True
        self._local = threading.local()
        if not self._forked:
            for _, own in readers:
                own.conn.close()
        self.writer.close()

    def forget_after_fork(self) -> None:
        """In a child process: the parent's connections are the parent's (SQLite must not
        use them across a fork); every use now refuses, naming the fix."""
        self._forked = True
        self._readers, self._local = [], threading.local()


class _Reader:
    """A thread's read connection (None once closed for a VACUUM: the thread opens another)
    and the data_version it last saw on that connection."""

    __slots__ = ("conn", "version")

    def __init__(self, conn: sqlite3.Connection):
        self.conn: sqlite3.Connection | None = conn
        self.version: int | None = None


def _closed_error() -> sqlite3.ProgrammingError:
    return sqlite3.ProgrammingError("Cannot operate on a closed database.")


def _state(conn: sqlite3.Connection) -> tuple[int, int]:
    """(data_version, total_changes) of the write connection: the first moves with every
    commit of another connection; the second with rows it changed, ours or by hand."""
    return conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes


class _Checked:
    """The write connection for one transaction: after every statement, the transaction
    must still be open. SQLite rolls a whole transaction back on some failures (a full
    disk); were that error lost, the statements after it would each commit on their own."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def execute(self, sql, params=()):
        cursor = self._conn.execute(sql, params)
        if not self._conn.in_transaction:
            raise _rolled_back()
        return cursor

    def executemany(self, sql, rows):
        cursor = self._conn.executemany(sql, rows)
        if not self._conn.in_transaction:
            raise _rolled_back()
        return cursor

    def __getattr__(self, name):  # total_changes, in_transaction, ...
        return getattr(self._conn, name)


def _rolled_back() -> sqlite3.OperationalError:
    return sqlite3.OperationalError("the write was rolled back by SQLite (a statement of it failed); "
                                    "nothing of it was stored")


def _after_fork_in_child() -> None:
    for connections in list(_OPEN):
        connections.forget_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
