"""Opening a SQLite collection that cannot be written: a read-only mount (a shared or
archived collection), or files and folder without write permission.

SQLite reads such a database in one of two ways:

- `mode=ro` sees everything committed, the WAL included, but needs the `-shm` file to
  exist or to be creatable beside the database;
- `immutable=1` needs nothing beside the database but ignores the WAL altogether and
  assumes nobody changes the file while it is open.

So `mode=ro` is tried first. When it cannot open and the WAL is empty or absent (the
usual archived collection: its last writer closed cleanly, which checkpoints and
removes the WAL), `immutable=1` reads the same committed state. When a WAL with content
is there but no `-shm` can be made, `immutable=1` would silently show an older state:
that is refused, naming the fix, rather than answering from it.

A full disk lands here too: SQLite cannot make the `-shm` file it needs to open a WAL
database for writing, so reads would fail where nothing needs writing.
"""

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from ..errors import EmbkitError
from .sqlite_busy import busy_timeout


def unwritable_reason(db: Path) -> str | None:
    """Why this process may not write the database or make its `-wal`/`-shm` files
    beside it (a read-only mount says no even to root); None if it may."""
    if os.access(db, os.W_OK) and os.access(db.parent, os.W_OK):
        return None
    return "a read-only mount, or no permission to write"


def write_failure_reason(e: sqlite3.Error) -> str | None:
    """Why opening for writing failed, when that means "cannot write here" rather than
    "this is no database": a read-only file, or a full disk (SQLite cannot make the
    `-shm` it needs to open for writing). None for any other error."""
    text = str(e).lower()
    if "readonly" in text or "read-only" in text or "unable to open database file" in text:
        return f"SQLite cannot open it for writing: {e}"
    if "disk i/o error" in text or "disk is full" in text:
        return f"SQLite cannot open it for writing, the disk may be full: {e}"
    return None


def connect_read_only(db: Path, flags: str | None = None) -> sqlite3.Connection:
    """A connection that reads the database at `db` and never writes beside it; with
    `flags`, opened with those (a store's further connections are opened as its first)."""
    return _connect_uri(db, flags) if flags is not None else read_only_connection(db)[0]


def read_only_connection(db: Path) -> tuple[sqlite3.Connection, str]:
    """(`connect_read_only`'s connection, the URI flags it was opened with)."""
    try:
        return _connect_uri(db, "mode=ro"), "mode=ro"
    except sqlite3.OperationalError:  # no -shm and none can be made: the WAL cannot be read
        wal = db.with_name(db.name + "-wal")
        if wal.is_file() and wal.stat().st_size > 0:
            raise EmbkitError(f"path: collection at {db.parent} is read-only and {wal.name} holds writes that were "
                              f"never checkpointed (no {db.name}-shm to read them with); open it once where it is "
                              "writable, or copy the folder somewhere writable") from None
        return _connect_uri(db, "immutable=1"), "immutable=1"


def _connect_uri(db: Path, flags: str) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{quote(str(db.absolute()))}?{flags}", uri=True, isolation_level=None,
                           check_same_thread=False, timeout=busy_timeout())
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # SQLite opens lazily: open now
    except BaseException:
        conn.close()
        raise
    return conn
