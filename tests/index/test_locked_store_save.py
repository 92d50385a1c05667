"""A search that rebuilt an index must answer even when the store cannot take the
bookkeeping write that follows the save (pruning the change log): another process
holds SQLite's write lock past the busy timeout. Found in review of issue 19, item 5."""

import shutil
import sqlite3
import warnings
from contextlib import closing

import numpy as np

import embkit

DIM = 8


def test_a_search_answers_while_another_process_holds_the_write_lock(tmp_path):
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(300, DIM)).astype(np.float32)
    with embkit.create(tmp_path / "c", model=None, dim=DIM) as col:
        col.add(ids=[f"d{i}" for i in range(300)], vectors=vectors)
        col.build_index("hnsw:M=16,efc=100,ef=200")
    shutil.rmtree(tmp_path / "c" / "index")  # the next search rebuilds and saves, then prunes the log
    with closing(sqlite3.connect(tmp_path / "c" / "embkit.db", isolation_level=None)) as other, \
            embkit.open(tmp_path / "c") as col:
        col._store._conn.execute("PRAGMA busy_timeout = 50")  # not 30 s: the test waits for nothing
        other.execute("BEGIN IMMEDIATE")  # the write lock, held
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            hits = col.search(vector=vectors[7], k=1)
        other.execute("ROLLBACK")
    assert [h.id for h in hits] == ["d7"]
    assert any("could not be saved" in str(w.message) and "locked" in str(w.message) for w in caught)
