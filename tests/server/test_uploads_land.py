"""The write behind the image and sound uploads (server/uploads.py `land`): a copy is
kept whole or not at all, and one request's failure never removes a file another
request's documents name (the copies are kept under the collection's write lock)."""

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from embkit.atomic import TEMP_SUFFIX
from embkit.ingest.folder import Skipped
from embkit.ingest.held_files import hold
from embkit.rw_lock import ReadWriteLock
from embkit.server import uploads
from embkit.server.uploads import LOCK_SUFFIX, land, upload_paths

RAW = b"RIFF" + bytes(range(256)) * 4
HOLDER = """
import fcntl, pathlib, sys, time
with open(sys.argv[1], "a+b") as f:
    fcntl.flock(f.fileno(), fcntl.LOCK_EX)
    pathlib.Path(sys.argv[2]).touch()
    while not pathlib.Path(sys.argv[3]).exists():
        time.sleep(0.01)
"""


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_write_failing_partway_leaves_no_copy(tmp_path, monkeypatch):
    [path] = upload_paths(tmp_path / "uploads", [RAW], [".wav"])

    class HalfThenDiskFull:  # the staged temp file (held_files.hold) takes 10 bytes, then the disk is full
        def __init__(self, f):
            self.f = f

        def write(self, data):
            self.f.write(data[:10])
            self.f.flush()
            raise OSError(28, "No space left on device")

        def close(self):
            self.f.close()

    monkeypatch.setattr(uploads, "hold", lambda tmp: HalfThenDiskFull(hold(tmp)))
    with pytest.raises(OSError):
        land(ReadWriteLock(), path.parent, [path], [RAW], lambda: (["a"], []), ["a"])
    monkeypatch.undo()
    assert not path.exists() and _files(path.parent) == []  # no truncated copy for a later upload to reuse
    reply = land(ReadWriteLock(), path.parent, [path], [RAW], lambda: (["a"], []), ["a"])
    assert reply == {"ids": ["a"], "skipped": []}
    assert path.read_bytes() == RAW


def test_a_failing_request_keeps_the_file_a_concurrent_request_stored(tmp_path):
    lock = ReadWriteLock()
    [path] = upload_paths(tmp_path / "uploads", [RAW], [".wav"])
    first_in_add, outcome = threading.Event(), {}

    def failing_add():  # request A: its copy is made, then its write fails (say, a 409)
        first_in_add.set()
        for _ in range(500):  # until request B, with the same bytes, has staged its copy: next, the folder's lock
            if any(path.parent.glob("*" + TEMP_SUFFIX)):
                break
            threading.Event().wait(0.01)
        raise RuntimeError("id exists")

    def second_add():  # request B: stores a document naming the same copy
        outcome["file_there"] = path.exists()
        return ["b"], []

    def first():
        with pytest.raises(RuntimeError):
            land(lock, path.parent, [path], [RAW], failing_add, ["a"])

    a = threading.Thread(target=first)
    a.start()
    assert first_in_add.wait(5)
    land(lock, path.parent, [path], [RAW], second_add, ["b"])
    a.join()
    assert outcome["file_there"] and path.read_bytes() == RAW  # B's document still has its file


def test_another_process_holding_the_upload_folder_keeps_this_request_waiting(tmp_path):
    """Server workers are processes: the folder's lock file, not only the in-process lock,
    orders their copies, writes and clean-ups (another worker could otherwise find a copy
    made by a request whose write then fails, and lose it)."""
    [path] = upload_paths(tmp_path / "uploads", [RAW], [".wav"])
    path.parent.mkdir()
    held, release = tmp_path / "held", tmp_path / "release"
    lock_file = tmp_path / ("uploads" + LOCK_SUFFIX)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock_file), str(held), str(release)])
    try:
        for _ in range(500):
            if held.exists():
                break
            time.sleep(0.01)
        done = []
        worker = threading.Thread(target=lambda: done.append(land(ReadWriteLock(), path.parent, [path], [RAW],
                                                                   lambda: (["a"], []), ["a"])))
        worker.start()
        worker.join(0.5)
        assert not done and not path.exists()  # waiting for the other worker
        release.touch()
        worker.join(10)
        assert done == [{"ids": ["a"], "skipped": []}] and path.read_bytes() == RAW
    finally:
        release.touch()
        holder.wait(10)


def test_temp_files_of_a_killed_writer_are_removed(tmp_path):
    folder = tmp_path / "uploads"
    folder.mkdir()
    dead = folder / f"{'0' * 40}.wav.999999999-abcd{TEMP_SUFFIX}"  # no such pid
    dead.write_bytes(b"half")
    [path] = upload_paths(folder, [RAW], [".wav"])
    land(ReadWriteLock(), folder, [path], [RAW], lambda: (["a"], []), ["a"])
    assert _files(folder) == [path.name]


def test_skipped_files_copies_are_removed_and_reported(tmp_path):
    paths = upload_paths(tmp_path / "uploads", [RAW, RAW[::-1]], [".wav", ".wav"])
    skip_second = lambda: (["x"], [Skipped(str(paths[1]), "not audio")])  # noqa: E731
    reply = land(ReadWriteLock(), paths[0].parent, paths, [RAW, RAW[::-1]], skip_second, ["x", "y"])
    assert reply == {"ids": ["x"], "skipped": [{"index": 1, "id": "y", "reason": "not audio"}]}
    assert paths[0].exists() and not paths[1].exists()


def test_a_rename_failing_partway_leaves_no_copy(tmp_path, monkeypatch):
    """The second file's rename fails (a full disk, a quota): the first, renamed already
    and named by no document, is removed too."""
    import os

    paths = upload_paths(tmp_path / "uploads", [RAW, RAW[::-1]], [".wav", ".wav"])
    rename = os.replace

    def second_fails(src, dst):
        if Path(dst) == paths[1]:
            raise OSError(122, "Disk quota exceeded")
        rename(src, dst)

    monkeypatch.setattr(os, "replace", second_fails)
    with pytest.raises(OSError):
        land(ReadWriteLock(), paths[0].parent, paths, [RAW, RAW[::-1]], lambda: (["x", "y"], []), ["x", "y"])
    monkeypatch.undo()
    assert _files(paths[0].parent) == []
