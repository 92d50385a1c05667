"""Compacting a collection an older embkit made (1 KiB pages: the page size changes, which
needs the file alone) after other threads of this process have read it: the read
connections of threads that ended (and the compacting thread's own) are closed first; a
live thread's is never closed from another thread (a statement it runs at that moment
would crash the process), so compact refuses in one line while such a thread lives, the
thread reads on, and compact works once it has ended.

Before, the idle read connection of a thread that had ended kept the file in WAL mode and
compact refused with a false "open in another process"; then, for a while, a live
thread's connection was closed under a read it was running (a segfault)."""

import sqlite3
import threading

import numpy as np
import pytest

import embkit
from embkit.errors import EmbkitError
from embkit.store import sqlite_pages

D = 4


def _old_collection(tmp_path):
    """A collection in an older embkit's page size, opened while another connection
    blocked the open's own conversion (as with a server running)."""
    with embkit.create(tmp_path / "c", model=None, dim=D) as col:
        col.add(ids=["a", "b"], vectors=np.eye(2, D, dtype=np.float32), texts=["x", "y"])
    db = tmp_path / "c" / "embkit.db"
    raw = sqlite3.connect(db, isolation_level=None)  # an older embkit's file: 1 KiB pages
    raw.execute("PRAGMA journal_mode = DELETE")
    raw.execute("PRAGMA page_size = 1024")
    raw.execute("VACUUM")
    raw.execute("PRAGMA journal_mode = WAL")
    blocker = sqlite3.connect(db)  # so that the open's own conversion fails
    blocker.execute("SELECT 1 FROM meta").fetchone()
    col = embkit.open(tmp_path / "c")
    blocker.close()
    raw.close()
    assert sqlite_pages.page_size(col._store._conn) == 1024
    return col


def test_compact_after_reads_in_threads_that_ended_changes_the_page_size(tmp_path):
    col = _old_collection(tmp_path)
    col.count()  # this thread's own reader
    for _ in range(3):
        ended = threading.Thread(target=col.count)  # a read in a thread that ended
        ended.start()
        ended.join(30)
    col.compact()
    assert sqlite_pages.page_size(col._store._conn) == sqlite_pages.page_size_for([D])
    assert col.count() == 2
    assert [h.id for h in col.search(vector=np.eye(1, D, dtype=np.float32)[0], k=1)] == ["a"]
    col.close()


def test_a_live_threads_reader_is_not_closed_under_it(tmp_path):
    col = _old_collection(tmp_path)
    go, done, counts = threading.Event(), threading.Event(), []

    def idle_reader():  # a read, then idle (a server's worker between requests), then reads again
        counts.append(col.count())
        done.set()
        go.wait(30)
        counts.append(col.count())
        counts.append([h.id for h in col.search(vector=np.eye(1, D, dtype=np.float32)[0], k=1)])

    alive = threading.Thread(target=idle_reader)
    alive.start()
    assert done.wait(30)
    with pytest.raises(EmbkitError, match="another live thread of this one"):
        col.compact()
    assert sqlite_pages.page_size(col._store._conn) == 1024  # unchanged
    go.set()
    alive.join(30)
    assert counts == [2, 2, ["a"]]  # the thread read on, on its own connection
    col.compact()  # it has ended: its connection is closed first
    assert sqlite_pages.page_size(col._store._conn) == sqlite_pages.page_size_for([D])
    assert col.count() == 2
    col.close()
