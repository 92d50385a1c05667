"""A SQLite store's stamp (sqlite_connections.stamp) counts every commit of another
process, whichever of this thread's connections it was taken on.

Before, the data_version last seen was kept once per thread for both connections: a
stamp on the write connection (space_state took it there, on every add and name lookup)
stored the writer's number, and when the thread's reader later showed that same number
after another process's commit, the commit went unnoticed: the caches (meta, filters,
hit rows) and the generation stayed stale and a search returned a deleted document."""

import threading

import numpy as np

import embkit

D = 4


def _data_version(conn) -> int:
    return conn.execute("PRAGMA data_version").fetchone()[0]


def _deleted_elsewhere_after(tmp_path, stamp_on_the_writer) -> tuple[list, list, list]:
    """(hits before, hits after another handle deleted the first, a fresh handle's hits),
    all in a new thread whose reader's data_version was brought to the writer's, then
    `stamp_on_the_writer(store)` called just before the delete."""
    x = np.random.default_rng(0).normal(size=(20, D)).astype(np.float32)
    with embkit.create(tmp_path / "c", model=None, dim=D) as col:
        col.add(ids=[f"d{i}" for i in range(20)], vectors=x)
    col, other = embkit.open(tmp_path / "c"), embkit.open(tmp_path / "c")  # other: another process, to SQLite
    store, out = col._store, {}
    for i in range(6):  # the other handle's commits, each seen here: the writer's data_version climbs
        other._store.set_meta("elsewhere", str(i))
        col.search(vector=x[0], k=3)

    def in_thread():
        col.count()  # this thread's new reader: its data_version starts low, moved by this handle's writes
        reader = store._read()
        while _data_version(reader) < _data_version(store._conn) - 1:
            store.set_meta("own", str(_data_version(reader)))
            col.search(vector=x[0], k=3)
        out["before"] = [h.id for h in col.search(vector=x[0], k=3)]
        stamp_on_the_writer(store)
        other.delete(ids=[out["before"][0]])  # the reader's data_version now equals the writer's
        out["after"] = [h.id for h in col.search(vector=x[0], k=3)]

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join(60)
    with embkit.open(tmp_path / "c") as fresh:
        truth = [h.id for h in fresh.search(vector=x[0], k=3)]
    col.close()
    other.close()
    return out["before"], out["after"], truth


def test_a_stamp_on_the_write_connection_hides_no_later_commit_from_the_reader(tmp_path):
    before, after, truth = _deleted_elsewhere_after(
        tmp_path, lambda store: store._connections.stamp(store._conn))
    assert before[0] not in truth
    assert after == truth


def test_space_state_hides_no_later_commit_from_the_next_search(tmp_path):
    before, after, truth = _deleted_elsewhere_after(tmp_path, lambda store: store.space_state())
    assert before[0] not in truth
    assert after == truth
