"""Waiting for SQLite's write lock, and how long; committing so that a failure says so.

A SQLite store writes on one connection of its own (sqlite_connections.py); its threads
read on others. Before that split the threads shared one connection, and two things went
wrong there; both helpers stay, for the write connection and for tests that hold a read
open on it by hand:

- A statement that has returned a row and not yet run to its end holds a read
  transaction for the whole connection. A BEGIN IMMEDIATE in that window upgrades it,
  and SQLite never waits for an upgrade (its busy handler runs only when no transaction
  is open): "database is locked" at once, as SQLITE_BUSY when another process holds the
  write lock, or SQLITE_BUSY_SNAPSHOT when another process committed since the read
  began. Both clear as soon as the statement ends, so `begin_immediate` tries again
  until the busy timeout has passed (tests/store/test_busy_begin.py; with `serve
  --workers 2` adds failed with 500s, tests/server/test_server_load.py).
- Python reads the connection's last error code after a failure, and another thread's
  statement may have set it meanwhile: a busy BEGIN surfaced as "another row available"
  or as no error at all (then no transaction was open), and a failed COMMIT as success.
  So a BEGIN is judged by the connection's own state (`in_transaction`), an error whose
  code is not an error is taken as busy, and `commit` asks `Connection.commit`, which
  judges by the COMMIT statement's own result (sqlite3_finalize): SQLite rolls a
  transaction back when its COMMIT fails (a full disk), so `in_transaction` cannot tell
  (tests/store/test_lost_commit.py). A failed statement inside a write is caught by
  sqlite_connections' check after every statement (tests/store/test_partial_write.py).
"""

import os
import sqlite3
import time

from ..errors import EmbkitError

BUSY = ("SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT")
NOT_ERRORS = ("SQLITE_OK", "SQLITE_ROW", "SQLITE_DONE")  # codes another thread's read leaves behind
TIMEOUT_VARIABLE = "EMBKIT_BUSY_TIMEOUT"
DEFAULT_TIMEOUT = 30.0  # seconds a write waits for another writer before "database is locked"
MAX_TIMEOUT = 3600.0


def busy_timeout() -> float:
    """Seconds a connection waits for another writer: EMBKIT_BUSY_TIMEOUT if set (a server
    that should answer 503 soon rather than hold a request while a bulk import writes)."""
    text = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_TIMEOUT:  # also NaN
        raise EmbkitError(f"{TIMEOUT_VARIABLE}: {text!r} is not a number of seconds from 0 to {MAX_TIMEOUT:g}")
    return seconds


def is_busy(e: BaseException) -> bool:
    """True for SQLite's "database is locked": another writer kept the lock past the timeout."""
    return isinstance(e, sqlite3.OperationalError) and getattr(e, "sqlite_errorname", None) in BUSY


def begin_immediate(conn: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE, waiting up to the connection's busy timeout also when another
    thread's read in flight on `conn` keeps SQLite from waiting itself (see above)."""
    started, pause, deadline, busy = time.monotonic(), 0.001, None, None
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as e:
            if is_busy(e):
                busy = e
            elif getattr(e, "sqlite_errorname", None) not in NOT_ERRORS:
                raise
        else:
            if conn.in_transaction:
                return
        if deadline is None:  # read only on this rare path; a PRAGMA that reads no table
            deadline = started + conn.execute("PRAGMA busy_timeout").fetchone()[0] / 1000
        left = deadline - time.monotonic()
        if left <= 0:  # SQLite's own wait ran out, or ours did
            raise busy or _locked()
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.05)


def _locked() -> sqlite3.OperationalError:
    """SQLite's "database is locked", for a wait whose every error code another thread overwrote."""
    e = sqlite3.OperationalError("database is locked")
    e.sqlite_errorcode, e.sqlite_errorname = sqlite3.SQLITE_BUSY, "SQLITE_BUSY"
    return e


def commit(conn: sqlite3.Connection) -> None:
    """COMMIT the transaction `begin_immediate` began; raises whenever it did not commit
    (see above), also when SQLite had already ended it: a statement of the transaction
    failed, SQLite rolled it all back, and that error was lost the same way."""
    if not conn.in_transaction:
        raise sqlite3.OperationalError("the write was rolled back by SQLite before its COMMIT "
                                       "(a statement failed and another thread's read overwrote its error)")
    try:
        conn.commit()  # raises on a failed COMMIT whatever error code it then reads
    except (SystemError, sqlite3.DatabaseError) as e:
        # SystemError "error return without exception set": the code read was SQLITE_OK
        if isinstance(e, SystemError) or getattr(e, "sqlite_errorname", None) in NOT_ERRORS:
            raise sqlite3.OperationalError("COMMIT failed (its error was overwritten by another thread's read "
                                           "on the same connection)") from None
        raise
