"""The write behind the image and sound uploads (server/uploads.py `land`): a copy is
kept whole or not at all, and one request's failure never removes a file another
request's documents name (the copies are kept under the collection's write lock)."""

import threading
from pathlib import Path

import pytest

from embkit.ingest.folder import Skipped
from embkit.server.rwlock import ReadWriteLock
from embkit.server.uploads import land, upload_paths

RAW = b"RIFF" + bytes(range(256)) * 4


def test_a_write_failing_partway_leaves_no_copy(tmp_path, monkeypatch):
    [path] = upload_paths(tmp_path / "uploads", [RAW], [".wav"])

    def half_then_disk_full(self, data):
        with open(self, "wb") as f:
            f.write(data[:10])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", half_then_disk_full)
    with pytest.raises(OSError):
        land(ReadWriteLock(), [path], [RAW], lambda: (["a"], []), ["a"])
    monkeypatch.undo()
    assert not path.exists() and list(path.parent.iterdir()) == []  # no truncated copy for a later upload to reuse
    assert land(ReadWriteLock(), [path], [RAW], lambda: (["a"], []), ["a"]) == {"ids": ["a"], "skipped": []}
    assert path.read_bytes() == RAW


def test_a_failing_request_keeps_the_file_a_concurrent_request_stored(tmp_path):
    lock = ReadWriteLock()
    [path] = upload_paths(tmp_path / "uploads", [RAW], [".wav"])
    first_in_add, outcome = threading.Event(), {}

    def failing_add():  # request A: its copy is made, then its write fails (say, a 409)
        first_in_add.set()
        for _ in range(500):  # until request B, with the same bytes, waits for the lock
            if lock._waiting_writers:
                break
            threading.Event().wait(0.01)
        raise RuntimeError("id exists")

    def second_add():  # request B: stores a document naming the same copy
        outcome["file_there"] = path.exists()
        return ["b"], []

    def first():
        with pytest.raises(RuntimeError):
            land(lock, [path], [RAW], failing_add, ["a"])

    a = threading.Thread(target=first)
    a.start()
    assert first_in_add.wait(5)
    land(lock, [path], [RAW], second_add, ["b"])
    a.join()
    assert outcome["file_there"] and path.read_bytes() == RAW  # B's document still has its file


def test_a_failed_requests_copy_stays_when_a_stored_document_names_it(tmp_path):
    """Server workers are processes: another worker may have stored a document naming the
    copy this request made (after seeing it on disk) before this request's write failed."""
    [path] = upload_paths(tmp_path / "uploads", [RAW], [".wav"])

    def failing_add():
        raise RuntimeError("id exists")

    with pytest.raises(RuntimeError):
        land(ReadWriteLock(), [path], [RAW], failing_add, ["a"], named=lambda p: p == path)
    assert path.read_bytes() == RAW
    with pytest.raises(RuntimeError):
        land(ReadWriteLock(), [path.with_suffix(".flac")], [RAW], failing_add, ["a"], named=lambda p: p == path)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no other copy, no temp file


def test_skipped_files_copies_are_removed_and_reported(tmp_path):
    paths = upload_paths(tmp_path / "uploads", [RAW, RAW[::-1]], [".wav", ".wav"])
    skip_second = lambda: (["x"], [Skipped(str(paths[1]), "not audio")])  # noqa: E731
    reply = land(ReadWriteLock(), paths, [RAW, RAW[::-1]], skip_second, ["x", "y"])
    assert reply == {"ids": ["x"], "skipped": [{"index": 1, "id": "y", "reason": "not audio"}]}
    assert paths[0].exists() and not paths[1].exists()
