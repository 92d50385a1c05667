"""Review of the warm plain search (41fa471, f67df21): cases where a search returns a hit
whose score does not belong to the document it names. Each write lands at the exact point
that exposes it, through a wrapped store call; the writes themselves are real (another
handle's commit, this handle's own upsert)."""

import threading

import numpy as np

import embkit
import embkit.store.sqlite as sqlite_store

D = 8
E = np.eye(D, dtype=np.float32)


def _collection(path):
    col = embkit.create(path, model=None, dim=D)
    col.add(ids=[f"d{i}" for i in range(D)], vectors=E, metadatas=[{"v": 1} for _ in range(D)])
    col.search(vector=E[0], k=3)  # warm: the index loaded and caught up
    return col


def test_the_search_after_a_catch_up_is_checked_as_the_first_is(tmp_path):
    col = _collection(tmp_path / "c")
    other = embkit.open(tmp_path / "c")  # its own connection: its commits are another process's
    other.upsert(ids=["d5"], vectors=E[5:6], metadatas=[{"v": 2}])  # this handle's index is now behind
    store, reads = col._store, []
    search_rows = store.search_rows

    def rows_read(rowids):
        reads.append(rowids)
        if len(reads) == 2:  # the fallback's read, after its catch-up and search: d0 turned around
            other.upsert(ids=["d0"], vectors=-E[0:1], metadatas=[{"v": 2}])
        return search_rows(rowids)

    store.search_rows = rows_read
    hits = col.search(vector=E[0], k=D)  # every document: d0 is among them whatever its score
    del store.search_rows
    d0 = next(h for h in hits if h.id == "d0")
    # d0 as the search returns it: its metadata says the vector -e0 (score -1), so its score must be -1
    assert (d0.metadata["v"], round(d0.score, 3)) in {(1, 1.0), (2, -1.0)}, (d0.metadata, d0.score)
    other.close()
    col.close()


def test_a_search_during_this_handles_write_leaves_no_stale_index(tmp_path, monkeypatch):
    """A search in another thread during this handle's write read the shared connection's
    uncommitted generation; its catch-up recorded that generation without the rows written
    after it, so the index kept d0's old vector after the commit (also before 41fa471).
    Now a catch-up waits for the write (store.settled): the writer gives the search 2 s to
    go wrong, then commits; the search then catches up from the committed rows."""
    col = _collection(tmp_path / "c")
    followers_of = sqlite_store.followers_of
    searching = []

    def mid_write(c, space):  # inside write(): after the generation bump, before the rows
        searching.append(threading.Thread(target=lambda: col.search(vector=E[0], k=3)))
        searching[0].start()
        searching[0].join(2)
        return followers_of(c, space)

    monkeypatch.setattr(sqlite_store, "followers_of", mid_write)
    col.upsert(ids=["d0"], vectors=-E[0:1], metadatas=[{"v": 2}])
    monkeypatch.setattr(sqlite_store, "followers_of", followers_of)
    searching[0].join(30)
    assert not searching[0].is_alive()
    hits = col.search(vector=E[0], k=3)
    assert "d0" not in [h.id for h in hits[:1]], [(h.id, h.score, h.metadata) for h in hits]
    col.close()
