"""Compacting a collection an older embkit made (1 KiB pages: the page size changes, which
needs the file alone) works after other threads of this process have read it: their idle
read connections are closed first, and they open new ones on their next read.

Before, the idle read connection of any other thread, even one that had ended, kept the
file in WAL mode and compact refused with a false "open in another process"."""

import sqlite3
import threading

import numpy as np

import embkit
from embkit.store import sqlite_pages

D = 4


def test_compact_after_reads_in_other_threads_changes_the_page_size(tmp_path):
    with embkit.create(tmp_path / "c", model=None, dim=D) as col:
        col.add(ids=["a", "b"], vectors=np.eye(2, D, dtype=np.float32), texts=["x", "y"])
    db = tmp_path / "c" / "embkit.db"
    raw = sqlite3.connect(db, isolation_level=None)  # an older embkit's file: 1 KiB pages
    raw.execute("PRAGMA journal_mode = DELETE")
    raw.execute("PRAGMA page_size = 1024")
    raw.execute("VACUUM")
    raw.execute("PRAGMA journal_mode = WAL")
    blocker = sqlite3.connect(db)  # so that the open's own conversion fails, as with a server running
    blocker.execute("SELECT 1 FROM meta").fetchone()
    col = embkit.open(tmp_path / "c")
    blocker.close()
    raw.close()
    assert sqlite_pages.page_size(col._store._conn) == 1024
    ended = threading.Thread(target=col.count)  # a read in a thread that ended
    ended.start()
    ended.join(30)
    go, done, counts = threading.Event(), threading.Event(), []

    def idle_reader():  # a read, then idle (a server's worker between requests), then a read again
        counts.append(col.count())
        done.set()
        go.wait(30)
        counts.append(col.count())
        counts.append([h.id for h in col.search(vector=np.eye(1, D, dtype=np.float32)[0], k=1)])

    alive = threading.Thread(target=idle_reader)
    alive.start()
    assert done.wait(30)
    col.compact()
    assert sqlite_pages.page_size(col._store._conn) == sqlite_pages.page_size_for([D])
    go.set()
    alive.join(30)
    assert counts == [2, 2, ["a"]]  # the idle thread reads on, on a new connection
    assert col.count() == 2
    col.close()
