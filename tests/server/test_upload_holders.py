"""A server's start removes what a dead upload left (temp files, notes and the copies
they name, files-route scratch folders) only if no process holds its lock
(ingest/held_files.py): never by pid. Failed before: a writer in another pid namespace
with the starting server's pid lost its temp file; a note whose pid an unrelated process
got was kept forever; a user's own embkit-upload-2024-12-photos folder was removed."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import embkit
from embkit.atomic import temp_name
from embkit.ingest.held_files import hold
from embkit.ingest.uploads import SCRATCH_MARKER
from embkit.server.hosting import Collections
from embkit.server.upload_recovery import _sweep_scratch, recover_uploads
from embkit.server.uploads import LANDING_SUFFIX, _swept

HOLDER = "import sys; from pathlib import Path; from embkit.ingest.held_files import hold; " \
         "f = hold(Path(sys.argv[1])); print('held', flush=True); sys.stdin.read()"


def held_by_another_process(path: Path) -> subprocess.Popen:
    """A live writer (another process, as another container's server is) holding `path`."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "held\n"
    return holder


def start(folder: Path) -> None:
    _swept.clear()  # as a new server process
    cols = Collections([folder])
    try:
        recover_uploads(cols)
    finally:
        cols.close()


def test_a_live_writer_with_the_starting_servers_pid_keeps_its_files(tmp_path):
    """Two containers sharing the folder, each server pid 1: the names carry this
    process's pid, their writer is another process that holds them."""
    embkit.create(tmp_path / "col").close()
    images = tmp_path / "col" / "images"
    images.mkdir()
    tmp = images / temp_name("ab" * 20 + ".png", os.getpid())
    note = images / (temp_name("landing", os.getpid()) + LANDING_SUFFIX)
    making = images / ("cd" * 20 + ".png")
    making.write_bytes(b"a copy being written")
    holders = [held_by_another_process(tmp), held_by_another_process(note)]
    try:
        note.write_text(making.name + "\n")  # the holder made it empty; a write's note names its copies
        start(tmp_path / "col")
        assert sorted(p.name for p in images.iterdir()) == sorted([tmp.name, note.name, making.name])
    finally:
        for holder in holders:
            holder.communicate("")
    start(tmp_path / "col")  # their writer is gone now
    assert list(images.iterdir()) == []


def test_a_note_whose_pid_an_unrelated_process_got_is_settled(tmp_path):
    embkit.create(tmp_path / "col").close()
    images = tmp_path / "col" / "images"
    images.mkdir()
    sleeper = subprocess.Popen(["sleep", "60"])  # got the dead server's pid
    try:
        note = images / (temp_name("landing", sleeper.pid) + LANDING_SUFFIX)
        note.write_text("ab" * 20 + ".png\n")
        (images / ("ab" * 20 + ".png")).write_bytes(b"orphan copy named by no document")
        (images / temp_name("cd" * 20 + ".png", sleeper.pid)).write_bytes(b"staged")
        start(tmp_path / "col")
        assert list(images.iterdir()) == []
    finally:
        sleeper.kill()
        sleeper.wait()


def test_only_scratch_folders_embkit_made_and_no_one_holds_are_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    mine = tmp_path / "embkit-upload-2024-12-photos"  # a user's folder: no marker
    mine.mkdir()
    (mine / "holiday.jpg").write_bytes(b"jpeg")
    dead = tmp_path / f"embkit-upload-{os.getpid()}-abcd1234"  # a killed server's (a pid alive now)
    dead.mkdir()
    hold(dead / SCRATCH_MARKER).close()
    (dead / "0.md").write_text("uploaded")
    live = tmp_path / "embkit-upload-999999999-abcd1234"  # another container's, reading (a pid dead here)
    live.mkdir()
    holder = held_by_another_process(live / SCRATCH_MARKER)
    try:
        _sweep_scratch()
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, live.name])
        assert (mine / "holiday.jpg").read_bytes() == b"jpeg"
    finally:
        holder.communicate("")
    _sweep_scratch()
    assert [p.name for p in tmp_path.iterdir()] == [mine.name]


def test_an_empty_scratch_folder_killed_before_its_marker_is_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    killed = tmp_path / "embkit-upload-31629-2kyd6_ay"  # mkdtemp's form, the marker not made yet
    users = [tmp_path / "embkit-upload-2024-12", tmp_path / "embkit-upload-1-notes-of-mine"]  # not that form
    for folder in [killed, *users]:
        folder.mkdir()
    _sweep_scratch()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in users)


def test_a_remover_between_creation_and_lock_makes_the_writer_create_again(tmp_path, monkeypatch):
    """hold(): a file unlinked by a remover that took its lock before the writer did is
    made again, so the writer never writes into a file no name leads to."""
    import fcntl

    path = tmp_path / "x.tmp"
    real, calls = fcntl.flock, []

    def flock_after_a_remover(fd, op):
        if not calls:
            path.unlink()  # a start took the lock first and removed the file
        calls.append(op)
        return real(fd, op)
    monkeypatch.setattr(fcntl, "flock", flock_after_a_remover)
    with hold(path) as f:
        f.write(b"data")
        f.flush()
        assert os.path.samefile(path, f"/proc/self/fd/{f.fileno()}")
    assert path.read_bytes() == b"data" and len(calls) == 2
