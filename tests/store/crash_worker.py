"""Ingesting worker for test_crash.py: killed with SIGKILL at random points.

    python crash_worker.py DIR START [PAUSE]

Opens the existing collection in DIR and writes batches START, START+1, ... forever
(up to a safety cap), one `add`/`upsert` call -- one transaction -- per batch. Prints
`ready` once the collection is open, `begin B` just before batch B's call and
`committed B` right after it returns, flushing each line. With PAUSE, batch PAUSE stops
inside its transaction (seen through SQLite's statement trace) once half its own vector
rows are written -- or, in an upsert, all of them and half the rewrites of batch PAUSE-1
-- prints `inside B` and waits there to be killed.

Everything a batch holds is a pure function of its number, so the test can recompute
it (this module is imported by the test for that):

* batch b adds `size(b)` documents `b{b}-{i}` with metadata {"batch": b, "i": i} and
  vectors `vectors(b)`;
* an upsert batch (`is_upsert(b)`) additionally rewrites every document of batch b-1 in
  the same transaction, to metadata {"batch": b-1, "i": i, "rev": b} and vectors
  `vectors(b - 1, rev=b)`. So batch b-1 is "revised" iff batch b is present, and a torn
  transaction would show as a partly revised batch.
"""

import sys
import time

import numpy as np

DIM = 64
MAX_BATCHES = 3000  # a safety cap, so an orphaned worker stops on its own


def size(b: int) -> int:
    return 50 + (b * 37) % 151  # 50..200


def ids(b: int) -> list[str]:
    return [f"b{b}-{i}" for i in range(size(b))]


def is_upsert(b: int) -> bool:
    return b % 4 == 3


def vectors(b: int, rev: int | None = None) -> np.ndarray:
    seed = [b] if rev is None else [b, rev]
    return np.random.default_rng(seed).standard_normal((size(b), DIM)).astype(np.float32)


def metadatas(b: int, rev: int | None = None) -> list[dict]:
    extra = {} if rev is None else {"rev": rev}
    return [{"batch": b, "i": i, **extra} for i in range(size(b))]


def batch_call(b: int) -> tuple[str, list[str], list[dict], np.ndarray]:
    """(method, ids, metadatas, vectors) of batch b's single write."""
    if not is_upsert(b) or b == 0:
        return "add", ids(b), metadatas(b), vectors(b)
    return ("upsert", ids(b) + ids(b - 1), metadatas(b) + metadatas(b - 1, rev=b),
            np.concatenate([vectors(b), vectors(b - 1, rev=b)]))


def pause_inside(conn, b: int, rows: int) -> None:
    """Trace `conn`'s statements; after `rows` vector rows of batch b's transaction,
    say so and wait (in the transaction, its lock held) for the SIGKILL."""
    written = 0

    def trace(statement: str) -> None:
        nonlocal written
        written += statement.startswith("INSERT OR REPLACE INTO vectors")
        if written == rows:
            assert conn.in_transaction
            sys.stdout.write(f"inside {b}\n")
            sys.stdout.flush()
            time.sleep(120)

    conn.set_trace_callback(trace)


def main(path: str, start: int, pause: int | None = None) -> None:
    import embkit

    col = embkit.open(path)
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for b in range(start, start + MAX_BATCHES):
        method, ids_, metas, vecs = batch_call(b)
        if b == pause:
            pause_inside(col._store._conn, b, size(b) // 2 if len(ids_) == size(b) else (size(b) + len(ids_)) // 2)
        out.write(f"begin {b}\n")
        out.flush()
        getattr(col, method)(ids=ids_, metadatas=metas, vectors=vecs)
        out.write(f"committed {b}\n")
        out.flush()
    sys.exit(3)  # never killed: the test reports this


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else None)
