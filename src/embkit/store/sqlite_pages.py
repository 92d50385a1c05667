"""The page size of a collection's SQLite file, and VACUUM.

A `vectors` row (a float32 blob and ~24 bytes besides) lives whole in a leaf page, so
the page size decides how much of each page vectors fill: SQLite's default 4096 bytes
holds two 384-d rows (2,054 bytes a vector on disk, 1.34x the raw 1,536), 8192 bytes
hold five (1,640, 1.07x). Measured (3,000 vectors with short texts; the vectors table and
its unique index over the raw bytes), the best page grows with the vector:

    dim     4 KiB  8 KiB  16 KiB  32 KiB  64 KiB
    50      1.24   1.22   1.23    1.31    1.31    (the ~42 bytes a row costs besides its blob dominate)
    128     1.18   1.11   1.12    1.15    1.15
    256     1.36   1.17   1.09    1.08    1.09
    384     1.35   1.08   1.08    1.05    1.05
    512     2.02   1.34   1.16    1.09    1.06
    768     1.34   1.34   1.08    1.08    1.03
    1024    1.13   2.01   1.34    1.16    1.08
    1536    1.34   1.34   1.34    1.07    1.07

page_size_for predicts these from the row size (tests/store/test_page_sizes.py measures
384-d and 50-d again); a page over 8 KiB costs more per random read, so the smallest that
fills well wins.

The page size of an existing file changes only by VACUUM outside WAL mode, so a
conversion is: journal_mode=DELETE, page_size=N, VACUUM, journal_mode=WAL. VACUUM under
the rollback journal is atomic: a process killed midway leaves the old file (the hot
journal is rolled back by the next connection) or the new one, never a broken one.
"""

import sqlite3
import threading
from pathlib import Path
from typing import Callable, Iterable

from ..errors import EmbkitError

PAGE_SIZES = (8192, 16384, 32768, 65536)  # what this version makes; 4096 (the default) marks an older file
ROW_OVERHEAD = 24  # bytes of a vectors row besides its blob: record header, row id, space name, doc, cell pointer
WANTED_RATIO = 1.10  # leaves room, within the 1.15x target, for the unique index and part-filled pages
CLOSE_ENOUGH = 0.02  # a bigger page must beat a smaller one by more than this to be chosen when none is WANTED


def page_size_for(dims: Iterable[int]) -> int:
    """The page size for vectors of these dimensions (the largest one decides: its rows
    weigh most): the smallest page whose rows fill it to within WANTED_RATIO of their
    raw bytes; else (short vectors, where the per-row overhead dominates) the smallest
    of those within CLOSE_ENOUGH of the best."""
    dim = max(dims, default=384)
    ratios = {page: _ratio(page, dim) for page in PAGE_SIZES}
    for page in PAGE_SIZES:
        if ratios[page] <= WANTED_RATIO:
            return page
    best = min(ratios.values())
    return next(page for page in PAGE_SIZES if ratios[page] <= best + CLOSE_ENOUGH)


def _ratio(page: int, dim: int) -> float:
    """Predicted bytes on disk per vector over its raw bytes, for rows that fill leaf pages."""
    raw = 4 * dim
    if raw + ROW_OVERHEAD > page - 35:  # larger than a leaf cell may be: it would spill to overflow pages
        return float("inf")
    per_page = (page - 8) // (raw + ROW_OVERHEAD)  # 8: the leaf page header
    return page / per_page / raw


def page_size(conn: sqlite3.Connection) -> int:
    """The file's page size now."""
    return int(conn.execute("PRAGMA page_size").fetchone()[0])


def made_before(conn: sqlite3.Connection) -> bool:
    """True for a file an older embkit made (SQLite's default page size, below any this
    version chooses): opening it converts it, also after a conversion a crash interrupted."""
    return page_size(conn) < PAGE_SIZES[0]


def create_file(db: Path, dims: Iterable[int]) -> None:
    """Make the new, empty database file `db` with the page size its vectors want: set
    before anything is written (WAL mode writes the header, and fixes the size then)."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute(f"PRAGMA page_size = {page_size_for(dims)}")
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()


def vacuum(conn: sqlite3.Connection, lock: threading.RLock, page: int | None = None, wait: bool = True,
           alone: Callable[[], None] = lambda: None) -> bool:
    """Rewrite the file without free pages (VACUUM), with page size `page` if given and
    different. Needs the only connection to the file: another one (another process, a
    server), or too little disk space, makes it fail and leaves the file as it was: an
    EmbkitError when `wait`, else False at once (opening must not fail for it). True when done.
    `alone()` is called under `lock` before a page size change (it closes this process's
    idle read connections that can be closed safely: this thread's and those of ended threads)."""
    with lock:
        timeout = conn.execute("PRAGMA busy_timeout").fetchone()[0]
        if not wait:
            conn.execute("PRAGMA busy_timeout = 0")
        try:
            if page is None or page == page_size(conn):
                conn.execute("VACUUM")  # WAL mode can VACUUM in place, atomically
            else:
                alone()
                _convert(conn, page)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # VACUUM in WAL mode wrote the new file to the WAL
            return True
        except sqlite3.OperationalError as e:  # the file is as it was (see the module's note)
            if not wait:
                return False  # on open: a later open, or `embkit compact`, tries again
            if "locked" in str(e) or "busy" in str(e):
                raise EmbkitError("path: the collection is open in another process (a server, a sync) or in "
                                  "another live thread of this one that has read it; close it and compact again "
                                  f"({e})") from None
            raise EmbkitError(f"path: could not rewrite the database ({e}; VACUUM needs free disk space about "
                              "the size of the database); the collection is unchanged") from None
        finally:
            conn.execute(f"PRAGMA busy_timeout = {int(timeout)}")


def _convert(conn: sqlite3.Connection, page: int) -> None:
    """journal_mode=DELETE, page_size, VACUUM, journal_mode=WAL (see the module's note);
    WAL mode again whatever fails."""
    mode = conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
    try:
        if mode != "delete":  # another connection holds the file in WAL mode
            raise sqlite3.OperationalError("database is locked")
        conn.execute(f"PRAGMA page_size = {int(page)}")
        conn.execute("VACUUM")
    finally:
        conn.execute("PRAGMA journal_mode = WAL")
