"""Deleting a collection over HTTP while another request finds the same collection stale
(another server worker replaced its folder) must not deadlock the two: the delete held
the collection's write lock and then waited for the registry's lock, while the other
request held the registry's lock and waited for that write lock (server/hosting.py)."""

import threading
from contextlib import contextmanager

import pytest

from embkit.rw_lock import ReadWriteLock
from embkit.server.hosting import Collections, NotFound

GIVE_UP = 10  # seconds: a thread still running then is deadlocked (never reached when it works)


class _PausingLock(ReadWriteLock):
    """Runs `pause()` in the deleting thread as soon as it holds the write lock."""

    def __init__(self, deleter: list, pause):
        super().__init__()
        self.deleter, self.pause = deleter, pause

    @contextmanager
    def writing(self):
        with super().writing():
            if self.deleter and threading.current_thread() is self.deleter[0]:
                self.deleter.clear()
                self.pause()
            yield


def test_a_delete_and_a_stale_drop_of_the_same_collection_both_finish(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    collections = Collections(root=root)
    hosted = collections.create("c", None, "cosine", 4)
    other = threading.Thread(target=lambda: _get_or_not_found(collections, "c"), daemon=True)

    def another_request_finds_it_stale():
        hosted.identity = ("replaced by another worker",)
        other.start()
        for _ in range(GIVE_UP * 100):  # until it is done, or waits for this write lock
            if not other.is_alive() or hosted.lock._waiting:
                break
            threading.Event().wait(0.01)

    deleter_box: list = []
    hosted.lock = _PausingLock(deleter_box, another_request_finds_it_stale)
    deleter = threading.Thread(target=lambda: collections.delete("c"), daemon=True)
    deleter_box.append(deleter)
    deleter.start()
    deleter.join(GIVE_UP)
    other.join(GIVE_UP)
    assert not deleter.is_alive() and not other.is_alive(), "deadlocked"
    assert not (root / "c").exists() and collections.names() == []
    with pytest.raises(NotFound):
        collections.get("c")
    collections.close()


def _get_or_not_found(collections: Collections, name: str) -> None:
    try:
        collections.get(name)
    except NotFound:
        pass


def test_a_stale_collection_waiting_for_its_reads_holds_up_no_other_collection(tmp_path):
    """Dropping a stale handle waits for its reads to end (a long search); it did so holding
    the registry's lock, so every request for any other collection waited too."""
    root = tmp_path / "root"
    root.mkdir()
    collections = Collections(root=root)
    stale, _ = collections.create("a", None, "cosine", 4), collections.create("b", None, "cosine", 4)
    stale.lock.acquire_read()  # a long search on the handle about to go stale
    try:
        stale.identity = ("replaced by another worker",)
        dropping = threading.Thread(target=lambda: collections.get("a"), daemon=True)
        dropping.start()
        for _ in range(GIVE_UP * 100):  # until it waits for the long search
            if stale.lock._waiting:
                break
            threading.Event().wait(0.01)
        other = threading.Thread(target=lambda: collections.get("b"), daemon=True)
        other.start()
        other.join(GIVE_UP)
        assert not other.is_alive(), "collection b waited for collection a's reads"
    finally:
        stale.lock.release_read()
    dropping.join(GIVE_UP)
    assert not dropping.is_alive() and collections.get("a") is not stale
    collections.close()
