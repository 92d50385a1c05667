"""Files a writer holds while it works (an upload's temp files and notes, a files upload's
scratch folder's marker): an advisory lock (flock) taken when the file is created and kept
until the writer is done, which the kernel lets go when the writer dies, however it dies.
Whether another process may remove a left-over file is asked of the lock, not of a pid: a
pid says nothing about a process in another pid namespace (two containers sharing a
folder, each server pid 1) and may belong to an unrelated process by now. flock works
across pid namespaces on one host (and over NFS, where Linux maps it to fcntl locks)."""

import contextlib
import fcntl
import os
from pathlib import Path
from typing import BinaryIO, Iterator


def hold(path: Path) -> BinaryIO:
    """`path` created (it must not exist) and opened for writing, its lock held: close
    the file to let it go. A remover that took the lock of a file just created, before
    the lock was held here, may have unlinked it: then it is created again."""
    while True:
        f = open(path, "xb")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            if os.fstat(f.fileno()).st_nlink > 0:
                return f
        except BaseException:
            f.close()
            raise
        f.close()  # removed between its creation and the lock: make it again


@contextlib.contextmanager
def unheld(path: Path) -> Iterator[bool]:
    """True (with the lock taken, until the block ends) if no process holds `path`'s lock:
    its writer ended or died, so it may be removed; False if a writer holds it, or it is
    gone or unreadable."""
    try:
        f = open(path, "rb")
    except OSError:
        yield False
        return
    with f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # BlockingIOError: held by a live writer
            yield False
            return
        yield True


def remove_unheld(paths) -> list[Path]:
    """Each of `paths` removed if no process holds its lock (see unheld): those removed."""
    removed = []
    for path in paths:
        with unheld(path) as free:
            if free:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
    return removed
