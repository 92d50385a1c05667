"""Writer for test_lost_commit.py, on a disk where nothing can be written any more.

    python lost_commit_worker.py DIR ROUNDS store|helper

Opens the store in DIR, starts threads that read on its shared connection (a server's
searches), then limits the size of any file this process writes to 1 byte (RLIMIT_FSIZE:
a full disk, which SQLite reports as a disk I/O error) and tries ROUNDS writes of meta key
`lostN`: through the store (`set_meta`, one transaction) or, with `helper`, through
sqlite_busy's begin_immediate and commit on the same connection. Every write must fail.
Prints `said ok KEY` for each write that returned normally, then `open N` with whether a
transaction was left open."""

import os
import resource
import sys
import threading
from pathlib import Path

from embkit.store.sqlite import SQLiteStore
from embkit.store.sqlite_busy import begin_immediate, commit

READERS = 4


def start_readers(store: SQLiteStore, count: int) -> threading.Event:
    """`count` daemon threads reading `store` in a loop until the event returned is set."""
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                store.get(["seed"])
            except Exception:  # noqa: BLE001 - a read may fail beside a failing write; only writes are judged
                pass

    for _ in range(count):
        threading.Thread(target=read, daemon=True).start()
    return stop


def main(folder: str, rounds: int, mode: str) -> None:
    store = SQLiteStore.open(Path(folder))
    stop = start_readers(store, READERS)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1, 1))  # Python ignores SIGXFSZ: write() fails with EFBIG
    for n in range(rounds):
        try:
            if mode == "store":
                store.set_meta(f"lost{n}", "1")
            else:
                with store._lock:
                    begin_immediate(store._conn)
                    try:
                        store._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, '1')", (f"lost{n}",))
                        commit(store._conn)
                    finally:
                        if store._conn.in_transaction:
                            store._conn.execute("ROLLBACK")
            print(f"said ok lost{n}", flush=True)
        except Exception:  # noqa: BLE001 - the expected outcome: the write failed and said so
            pass
    stop.set()
    print(f"open {store._conn.in_transaction}", flush=True)
    os._exit(0)  # the readers are daemons; closing would try to write (a checkpoint)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
