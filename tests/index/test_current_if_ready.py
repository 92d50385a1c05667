"""`IndexManager.current_if_ready`: the index only when a search can use it this
instant (lock free, nothing to load, build or catch up), never waiting; and `current`
under NO_WAIT (the server's fast path) raising IndexBusy instead of waiting or working."""

import threading

import numpy as np
import pytest

import embkit
from embkit.index.no_wait import NO_WAIT, IndexBusy

N, DIM = 40, 8


@pytest.fixture
def col(tmp_path):
    x = np.random.default_rng(1).normal(size=(N, DIM)).astype(np.float32)
    with embkit.create(tmp_path / "c", model=None, dim=DIM) as c:
        c.add(ids=[f"d{i}" for i in range(N)], vectors=x)
    with embkit.open(tmp_path / "c") as c:
        yield c


def test_none_until_loaded_then_the_index(col):
    manager = col._index
    assert manager.current_if_ready() is None and manager.index is None  # nothing loaded here
    index = manager.current()
    assert manager.current_if_ready() is index


def test_none_when_behind_the_store_and_nothing_caught_up(col, tmp_path):
    manager = col._index
    index = manager.current()
    with embkit.open(tmp_path / "c") as other:
        other.add(ids=["new"], vectors=np.ones((1, DIM), np.float32))
    before = manager.generation
    assert manager.current_if_ready() is None and manager.generation == before and index.ntotal == N
    token = NO_WAIT.set(True)
    try:
        with pytest.raises(IndexBusy):
            manager.current()
    finally:
        NO_WAIT.reset(token)
    assert manager.generation == before and index.ntotal == N  # no catch-up under NO_WAIT
    assert manager.current().ntotal == N + 1  # waiting allowed: caught up


def test_none_while_another_thread_holds_the_lock(col):
    manager = col._index
    index = manager.current()
    held, done = threading.Event(), threading.Event()

    def hold():
        with manager._lock:
            held.set()
            done.wait(10)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    try:
        assert held.wait(10)
        assert manager.current_if_ready() is None and holder.is_alive()
    finally:
        done.set()
        holder.join(10)
    assert manager.current_if_ready() is index
