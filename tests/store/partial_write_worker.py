"""Writer for test_partial_write.py: batches that cannot fit on the disk, reads in flight.

    python partial_write_worker.py DIR ROUNDS

Opens the store in DIR with a tiny page cache (so a batch spills to the WAL while it is
written), starts threads that read through the store (a server's searches), then limits
the size of any file this process writes to the database's size plus MARGIN (RLIMIT_FSIZE:
a disk that is nearly full; the WAL was emptied first) and tries ROUNDS batches of BATCH
records, each bigger than that: each batch must fail whole. A statement fails when the spill no longer fits, and
SQLite rolls the transaction back; had that error been lost (another thread's read on the
same connection reset the code Python reads), the batch's later statements would have
run outside any transaction, each committed on its own (small enough to fit). Prints
`said ok N` for each batch the store said it wrote, then `open N` with whether a
transaction was left open."""

import os
import resource
import sys
from pathlib import Path

import numpy as np

from embkit.store.sqlite import SQLiteStore
from embkit.store.types import Record

from lost_commit_worker import start_readers  # the same reading threads (both run from tests/store)

READERS = 2
BATCH = 1000
MARGIN = 8192  # bytes: a few single-row commits fit, a batch never does
TEXT = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor " * 2


def main(folder: str, rounds: int) -> None:
    store = SQLiteStore.open(Path(folder))
    store._conn.execute("PRAGMA cache_size = 8")  # pages: a batch spills to the WAL as it goes
    store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    stop = start_readers(store, READERS)
    db = Path(folder) / "embkit.db"
    limit = db.stat().st_size + MARGIN
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))  # Python ignores SIGXFSZ: write() fails with EFBIG
    vectors = np.ones((BATCH, 4), np.float32) / 2
    for n in range(rounds):
        records = [Record(id=f"r{n}-{i}", text=f"{TEXT} {n} {i}", metadata={"n": n}) for i in range(BATCH)]
        try:
            store.write(records, "text", vectors, upsert=False)
            print(f"said ok {n}", flush=True)
        except Exception:  # noqa: BLE001 - the expected outcome: the write failed and said so
            pass
    stop.set()
    print(f"open {store._conn.in_transaction}", flush=True)
    os._exit(0)  # the readers are daemons; closing would try to write (a checkpoint)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
