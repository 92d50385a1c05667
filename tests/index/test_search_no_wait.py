"""Under NO_WAIT (the server's fast path, on the event loop) a search does not wait for
the FAISS index's own readers-writer lock: while a change (a route thread's catch-up:
`replace`, `add`, `remove`) holds it, or waits for it (the lock prefers writers, so a
read would queue behind it), `search_one` and `search` raise IndexBusy at once. Without
NO_WAIT they wait for the change as before and see it."""

import threading

import numpy as np
import pytest

from embkit.index import make_index
from embkit.index.no_wait import NO_WAIT, IndexBusy

DIM, N = 8, 20
NEW = 500  # the row id the change adds
SEARCHES = {"search_one": lambda index, q: index.search_one(q, 3, {})[0],
            "search": lambda index, q: index.search(q, 3)[0][0].tolist()}


def _index():
    index = make_index("flat", DIM, "cosine")
    index.add(np.arange(N, dtype=np.int64), np.eye(N, DIM, dtype=np.float32) + 0.1)
    return index


def _query():
    q = -np.ones((1, DIM), np.float32)  # nearest to NEW's vector once it is added
    return q / np.linalg.norm(q)


class Hooked(threading.Condition):
    """The lock's real condition, with an event set when the named thread waits on it."""

    def __init__(self, mutex, name: str):
        super().__init__(mutex)
        self.name, self.waiting = name, threading.Event()

    def wait(self, timeout=None):
        if threading.current_thread().name == self.name:
            self.waiting.set()
        return super().wait(timeout)


def _no_wait(search, index):
    token = NO_WAIT.set(True)
    try:
        return search(index, _query())
    finally:
        NO_WAIT.reset(token)


def _holding_writer(index, done: threading.Event):
    """A thread inside `index.lock.writing()` until `done`, adding NEW on its way out."""
    held = threading.Event()

    def change():
        with index.lock.writing():
            held.set()
            assert done.wait(10)
            index._add_locked(np.array([NEW], np.int64), -np.ones((1, DIM), np.float32))

    writer = threading.Thread(target=change, daemon=True)
    writer.start()
    assert held.wait(10)
    return writer


@pytest.mark.parametrize("name", list(SEARCHES))
def test_a_held_write_lock_raises_index_busy_at_once(name):
    index, done = _index(), threading.Event()
    writer = _holding_writer(index, done)
    try:
        with pytest.raises(IndexBusy):
            _no_wait(SEARCHES[name], index)
        assert writer.is_alive()  # before the fix: returned only once the change was done
    finally:
        done.set()
        writer.join(10)
    assert _no_wait(SEARCHES[name], index)[0] == NEW  # lock free: answered
    assert index.lock._readers == 0


@pytest.mark.parametrize("name", list(SEARCHES))
def test_a_waiting_writer_raises_index_busy_at_once(name):
    index, reading, done = _index(), threading.Event(), threading.Event()
    index.lock._cond = Hooked(index.lock._mutex, "writer")

    def read():  # another search inside the index: the change waits for it
        with index.lock.reading():
            reading.set()
            assert done.wait(10)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert reading.wait(10)
    writer = threading.Thread(target=index.add, args=(np.array([NEW], np.int64), -np.ones((1, DIM), np.float32)),
                              name="writer", daemon=True)
    writer.start()
    try:
        assert index.lock._cond.waiting.wait(10)
        with pytest.raises(IndexBusy):  # before the fix: queued behind the writer, behind that read
            _no_wait(SEARCHES[name], index)
        assert writer.is_alive() and reader.is_alive()
    finally:
        done.set()
        reader.join(10)
        writer.join(10)
    assert not writer.is_alive() and _no_wait(SEARCHES[name], index)[0] == NEW


@pytest.mark.parametrize("name", list(SEARCHES))
def test_without_no_wait_a_search_waits_for_the_change_and_sees_it(name):
    index, done, found = _index(), threading.Event(), []
    writer = _holding_writer(index, done)
    index.lock._cond = Hooked(index.lock._mutex, "searcher")  # the writer already holds the lock
    searcher = threading.Thread(target=lambda: found.append(SEARCHES[name](index, _query())),
                                name="searcher", daemon=True)
    searcher.start()
    try:
        assert index.lock._cond.waiting.wait(10)  # waiting for the change, not refused
        assert not found
    finally:
        done.set()
        writer.join(10)
        searcher.join(10)
    assert found[0][0] == NEW
