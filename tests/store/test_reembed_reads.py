"""The re-embedding's reads (space_state, count_missing, missing_vectors) run on the
thread's read connection, as every other read of a SQLite store does; inside this
thread's own write, on the write connection.

Before, they ran on the write connection outside the writers' lock: another thread read
a write's uncommitted rows there (and acted on them after its rollback), a read there
could overwrite the error code of a failed statement inside a write, and a child process
forked with the collection open read on its parent's connection instead of refusing."""

import os
import threading

import numpy as np

import embkit
from embkit.errors import EmbkitError

D = 4


def _collection(tmp_path):
    col = embkit.create(tmp_path / "c", model=None, dim=D)
    col.add(ids=["a"], vectors=np.eye(1, D, dtype=np.float32), texts=["x"])
    return col


def test_reads_in_another_thread_during_a_write_see_only_what_was_committed(tmp_path):
    col = _collection(tmp_path)
    store, inside, release, seen = col._store, threading.Event(), threading.Event(), {}

    def write_then_roll_back():
        try:
            with store._write() as c:
                c.execute("INSERT OR REPLACE INTO meta VALUES ('space_aliases', '{\"ghost\": \"text\"}')")
                c.execute("DELETE FROM vectors")
                inside.set()
                release.wait(30)
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass

    writer = threading.Thread(target=write_then_roll_back)
    writer.start()
    assert inside.wait(30)
    reader = threading.Thread(target=lambda: seen.update(
        aliases=store.space_state()["space_aliases"], missing=store.count_missing("text", None),
        rows=store.missing_vectors("text", "other")))
    reader.start()
    reader.join(30)
    release.set()
    writer.join(30)
    assert seen == {"aliases": {}, "missing": 1, "rows": [(1, "x")]}
    assert store.space_state()["space_aliases"] == {} and store.count_missing("text", None) == 1
    col.close()


def test_inside_its_own_write_a_thread_reads_its_uncommitted_rows(tmp_path):
    col = _collection(tmp_path)
    store = col._store
    with store._write() as c:
        c.execute("DELETE FROM vectors")
        assert store.count_missing("text", None) == 0
        assert store.missing_vectors("text", "other") == []
        c.execute("INSERT OR REPLACE INTO meta VALUES ('space_aliases', '{\"mine\": \"text\"}')")
        assert store.space_state()["space_aliases"] == {"mine": "text"}
    col.close()


def test_a_forked_child_refuses_the_reembeddings_reads_too(tmp_path):
    col = _collection(tmp_path)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: every read must refuse (SQLite connections must not cross a fork)
        ran = []
        for name, read in [("space_state", col._store.space_state),
                           ("count_missing", lambda: col._store.count_missing("text", None)),
                           ("missing_vectors", lambda: col._store.missing_vectors("text", "other"))]:
            try:
                read()
                ran.append(name)
            except EmbkitError:  # refused, as it should (anything else ends the child unheard: the assert fails)
                pass
        os.write(w, ",".join(ran).encode() or b"-")
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    assert os.read(r, 4096).decode() == "-"
    assert col._store.count_missing("text", None) == 1  # the parent's go on
    col.close()
