"""A server's start settling dead uploads while a live upload has just created its note
(and not yet locked it): the start must not take that note for a dead writer's. Before,
the start took the note's free lock outside the upload folder's lock, then waited for the
folder's lock, which the writer held while it waited for the note's lock: both hung for
good. The notes are now looked at under the folder's lock, under which notes are made."""

import subprocess
import sys

import embkit

WRITER = r'''
import contextlib, fcntl, os, sys, time
from pathlib import Path
from embkit.server import uploads
real = fcntl.flock
def slow(fd, op):  # the writer preempted between creating its note and locking it
    if os.readlink(f"/proc/self/fd/{fd}").endswith(".landing") and op == fcntl.LOCK_EX:
        print("note created, not locked yet", flush=True)
        time.sleep(3)
    return real(fd, op)
fcntl.flock = slow
class Lock:
    @contextlib.contextmanager
    def writing(self):
        yield
folder = Path(sys.argv[1]) / "images"
paths = [folder / ("ab" * 20 + ".png")]
print(uploads.land(Lock(), folder, paths, [b"png bytes"], lambda: (["x"], []), ["x"]), flush=True)
'''

START = ("import sys; from pathlib import Path; from embkit.server.hosting import Collections;"
         "from embkit.server.upload_recovery import recover_uploads;"
         "c = Collections([Path(sys.argv[1])]); recover_uploads(c); c.close(); print('start done', flush=True)")


def test_a_start_does_not_take_a_live_writers_fresh_note_for_a_dead_one(tmp_path):
    embkit.create(tmp_path / "col").close()
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "col")], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert writer.stdout.readline().startswith("note created")
        start = subprocess.run([sys.executable, "-c", START, str(tmp_path / "col")], capture_output=True, text=True,
                               timeout=60)
        assert start.stdout.strip() == "start done", start.stderr
        out, _ = writer.communicate(timeout=60)
        assert "'ids': ['x']" in out
        assert (tmp_path / "col" / "images" / ("ab" * 20 + ".png")).read_bytes() == b"png bytes"  # kept: named
        assert not list((tmp_path / "col" / "images").glob("*.landing"))
    finally:
        writer.kill()
        writer.wait()
