"""Worker for test_migration_release.py: opens (and so migrates) a collection and is
killed with SIGKILL after a given amount of SQLite work.

    python migration_worker.py DIR STEPS

Every connection the store opens counts SQLite virtual-machine steps (a progress handler
every 100 of them, which also runs inside VACUUM); once STEPS are done the process kills
itself with SIGKILL, wherever it is: in the schema migration's transaction, between its
commit and the page-size conversion, or inside VACUUM. With STEPS 0 it never does, and
prints `done N A B`: the steps a whole open takes, and those done when the page-size
conversion began and ended, so the test can spread its kill points over both parts.
With STEPS -1 it is killed as soon as VACUUM's rollback journal `embkit.db-journal`
appears, with -2 at VACUUM's first write over the old file once the journal is there (a
thread watches the files): the copy back of the new pages, work no progress handler sees.
"""

import os
import signal
import sys
import threading

from embkit.store import sqlite as sqlite_store, sqlite_pages

EVERY = 100


def main(path: str, steps: int) -> None:
    done = [0]
    connect = sqlite_store._connect

    def counting(db):
        conn = connect(db)

        def tick() -> int:
            done[0] += EVERY
            if steps > 0 and done[0] >= steps:
                os.kill(os.getpid(), signal.SIGKILL)
            return 0

        conn.set_progress_handler(tick, EVERY)
        return conn

    convert, marks = sqlite_pages._convert, []

    def marked(conn, page):
        marks.append(done[0])
        convert(conn, page)
        marks.append(done[0])

    sqlite_store._connect = counting
    sqlite_pages._convert = marked
    if steps < 0:
        threading.Thread(target=kill_on_journal, args=(os.path.join(path, "embkit.db"), steps == -2),
                         daemon=True).start()
    import embkit

    embkit.open(path).close()
    print("done", done[0], *marks, flush=True)


def kill_on_journal(db: str, on_write: bool) -> None:
    """Busy waits (a journal may live for a millisecond): the conversion's first rollback
    journal is the switch out of WAL mode (page 1 only), the second is VACUUM's."""
    journal, seen, was = db + "-journal", 0, False
    while seen < 2:
        now = os.path.exists(journal)
        seen, was = seen + (now and not was), now
    if on_write:
        before = os.stat(db).st_mtime_ns
        while os.path.exists(journal) and os.stat(db).st_mtime_ns == before:
            pass
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
