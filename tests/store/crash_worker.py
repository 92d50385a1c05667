"""Ingesting worker for test_crash.py: killed with SIGKILL at random points.

    python crash_worker.py DIR START [PAUSE [keyword]]

Opens the existing collection in DIR and writes batches START, START+1, ... forever
(up to a safety cap), one `add`/`upsert` call -- one transaction -- per batch. Prints
`ready` once the collection is open, `begin B` just before batch B's call and
`committed B` right after it returns, flushing each line. With PAUSE, batch PAUSE stops
inside its transaction (seen through SQLite's statement trace) once half its own vector
rows are written -- or, in an upsert, all of them and half the rewrites of batch PAUSE-1
-- prints `inside B` and waits there to be killed. With `keyword`, it stops instead at
the first rewrite of a keyword posting block, after every row of the batch is written.

Everything a batch holds is a pure function of its number, so the test can recompute
it (this module is imported by the test for that):

* batch b adds `size(b)` documents `b{b}-{i}` with metadata {"batch": b, "i": i}, text
  `texts(b)` and vectors `vectors(b)`;
* an upsert batch (`is_upsert(b)`) additionally rewrites every document of batch b-1 in
  the same transaction, to metadata {"batch": b-1, "i": i, "rev": b}, text
  `texts(b - 1, rev=b)` and vectors `vectors(b - 1, rev=b)`. So batch b-1 is "revised"
  iff batch b is present, and a torn transaction would show as a partly revised batch.
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


WORDS = ["apple", "river", "stone", "cloud", "ember", "maple", "harbor"]


def texts(b: int, rev: int | None = None) -> list[str]:
    """Texts whose BM25 scores differ: words shared unevenly across batches."""
    extra = "" if rev is None else " revised revised"
    return [f"{WORDS[b % 5]} {WORDS[i % 7]} {WORDS[(b + i) % 3]} batch{b}{extra}" for i in range(size(b))]


def metadatas(b: int, rev: int | None = None) -> list[dict]:
    extra = {} if rev is None else {"rev": rev}
    return [{"batch": b, "i": i, **extra} for i in range(size(b))]


def batch_call(b: int) -> tuple[str, list[str], list[str], list[dict], np.ndarray]:
    """(method, ids, texts, metadatas, vectors) of batch b's single write."""
    if not is_upsert(b) or b == 0:
        return "add", ids(b), texts(b), metadatas(b), vectors(b)
    return ("upsert", ids(b) + ids(b - 1), texts(b) + texts(b - 1, rev=b), metadatas(b) + metadatas(b - 1, rev=b),
            np.concatenate([vectors(b), vectors(b - 1, rev=b)]))


def pause_inside(conn, b: int, rows: int, keyword: bool = False) -> None:
    """Trace `conn`'s statements; after `rows` vector rows of batch b's transaction (or,
    with `keyword`, at its first keyword block written), say so and wait (in the
    transaction, its lock held) for the SIGKILL."""
    written = 0
    marker = "INSERT INTO kw_blocks" if keyword else "INSERT OR REPLACE INTO vectors"
    rows = 1 if keyword else rows

    def trace(statement: str) -> None:
        nonlocal written
        written += statement.startswith(marker)
        if written == rows:
            assert conn.in_transaction
            sys.stdout.write(f"inside {b}\n")
            sys.stdout.flush()
            time.sleep(120)

    conn.set_trace_callback(trace)


def main(path: str, start: int, pause: int | None = None, keyword: bool = False) -> None:
    import embkit

    col = embkit.open(path)
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for b in range(start, start + MAX_BATCHES):
        method, ids_, texts_, metas, vecs = batch_call(b)
        if b == pause:
            pause_inside(col._store._conn, b, size(b) // 2 if len(ids_) == size(b) else (size(b) + len(ids_)) // 2,
                         keyword)
        out.write(f"begin {b}\n")
        out.flush()
        getattr(col, method)(ids=ids_, texts=texts_, metadatas=metas, vectors=vecs)
        out.write(f"committed {b}\n")
        out.flush()
    sys.exit(3)  # never killed: the test reports this


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else None,
         len(sys.argv) > 4 and sys.argv[4] == "keyword")
