"""A collection deleted over HTTP while other requests hold or ask for it
(server/hosting.py): a request that took the handle before the delete and its lock
after meets a closed database (sqlite3.ProgrammingError, a 500); one that asks during
the delete's wait for a long search reopened the folder being removed; a second DELETE
of the same collection closed it again and failed in rmtree (FileNotFoundError, a 500).
Each is a 404 now, and nothing is reopened."""

import threading

import numpy as np
import pytest

from embkit.server.hosting import Collections, NotFound

GIVE_UP = 10  # seconds: a thread still running then is stuck (never reached when it works)


def _root_with_one(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    collections = Collections(root=root)
    hosted = collections.create("c", None, "cosine", 4)
    hosted.collection.add(ids=["a"], vectors=np.ones((1, 4), np.float32))
    return root, collections, hosted


def _deleting_while_read(collections, hosted):
    """A delete started while a long search holds the read lock: (thread, its error box)."""
    errors: list = []

    def delete():
        try:
            collections.delete("c")
        except Exception as e:  # noqa: BLE001 -- the test asserts on it
            errors.append(e)

    deleter = threading.Thread(target=delete, daemon=True)
    deleter.start()
    for _ in range(GIVE_UP * 100):  # until it waits for the long search
        if hosted.lock._waiting:
            break
        threading.Event().wait(0.01)
    assert hosted.lock._waiting, "the delete never waited for the write lock"
    return deleter, errors


def test_a_handle_taken_before_a_delete_is_not_found_after_it(tmp_path):
    root, collections, hosted = _root_with_one(tmp_path)
    taken = collections.get("c")  # a request's handle, its lock not yet taken (say, embedding first)
    collections.delete("c")
    with pytest.raises(NotFound, match=r"^name: no collection named 'c'$"):
        with taken.lock.reading():
            taken.collection.search(vector=np.ones(4, np.float32))
    with pytest.raises(NotFound, match=r"^name: no collection named 'c'$"):
        with taken.lock.writing():
            taken.collection.add(ids=["b"], vectors=np.ones((1, 4), np.float32))
    assert not (root / "c").exists()
    collections.close()


def test_a_request_during_a_delete_does_not_reopen_the_collection(tmp_path):
    root, collections, hosted = _root_with_one(tmp_path)
    hosted.lock.acquire_read()  # a long search
    try:
        deleter, errors = _deleting_while_read(collections, hosted)
        with pytest.raises(NotFound, match=r"^name: no collection named 'c'$"):
            collections.get("c")
        assert collections.peek("c") is None
    finally:
        hosted.lock.release_read()
    deleter.join(GIVE_UP)
    assert not deleter.is_alive() and errors == []
    assert not (root / "c").exists() and collections.names() == []
    with pytest.raises(NotFound):
        collections.get("c")
    assert collections._open == {}  # no handle of the deleted folder left open
    collections.close()


def test_two_deletes_of_one_collection_one_deletes_the_other_is_not_found(tmp_path):
    root, collections, hosted = _root_with_one(tmp_path)
    hosted.lock.acquire_read()  # a long search: both deletes find the collection open
    try:
        first, errors = _deleting_while_read(collections, hosted)
        second_errors: list = []
        second = threading.Thread(target=lambda: _delete_into(collections, second_errors), daemon=True)
        second.start()
        second.join(1)  # it fails at once, or waits behind the first
    finally:
        hosted.lock.release_read()
    first.join(GIVE_UP)
    second.join(GIVE_UP)
    assert not first.is_alive() and not second.is_alive()
    assert errors == [] and len(second_errors) == 1 and isinstance(second_errors[0], NotFound), second_errors
    assert not (root / "c").exists()
    collections.close()


def _delete_into(collections, errors: list) -> None:
    try:
        collections.delete("c")
    except Exception as e:  # noqa: BLE001 -- the test asserts on it
        errors.append(e)
