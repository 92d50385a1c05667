"""The files of a derived cache (vector index, keyword index): what they share.

The stamp a manifest carries (the collection's identity, the store generation) and
the checks on it; checksums and `.npy` bytes for manifests; an advisory lock per cache folder, so that
several processes saving the same cache take turns (exclusive) and a load never sees
files vanish under it (shared); cleanup that removes earlier states and the temp files
nobody is writing, never a live process's; a folder that is a stray file is replaced.
"""

import io
import os
import shutil
import warnings
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from ..atomic import TEMP_SUFFIX, stale_temp

try:
    import fcntl
except ImportError:  # no flock (Windows): saves are not coordinated between processes
    fcntl = None

LOCK = ".lock"  # never removed: a removed lock file would let two writers hold "the" lock at once
IDENTITY = "collection"  # manifest key: the identity of the collection the files were built from


class IndexUnreadable(Exception):
    """The saved index cannot be used (missing, truncated, corrupt, foreign)."""


def npy(array: np.ndarray) -> bytes:
    """`array` as the bytes of an .npy file."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def crc(path: Path) -> int:
    """CRC32 of a file's contents."""
    value = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            value = zlib.crc32(chunk, value)
    return value


def check_identity(manifest: dict, identity: str | None) -> None:
    """IndexUnreadable unless the manifest was written for the collection `identity`
    (None: the store has no identity to check against, say a read-only older one)."""
    if identity is not None and manifest.get(IDENTITY) != identity:
        raise IndexUnreadable(f"it was built for another collection ({manifest.get(IDENTITY)!r}, "
                              f"this one is {identity!r})")


def newer_saved(manifest: dict | None, generation: int, identity: str | None, newest: int) -> bool:
    """True if `manifest` is a state of the collection `identity` newer than `generation`
    (another process saved it): overwriting it would only lose ground. One ahead of the
    store's `newest` generation is not sound (a store put back from an older copy)."""
    if manifest is None:
        return False
    ours = identity is None or manifest.get(IDENTITY) == identity
    saved = manifest.get("generation")
    return ours and type(saved) is int and generation < saved <= newest


@contextmanager
def locked(folder: Path, exclusive: bool) -> Iterator[None]:
    """Hold `folder`'s lock: exclusive to write or prune, shared to read. Where no lock
    can be had (no folder yet, a read-only one without a lock file), go on unlocked:
    readers then rely on the files' checksums, and fall back to a rebuild."""
    fd = _open_lock(folder)
    try:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        if fd is not None:
            os.close(fd)  # releases the lock


def _open_lock(folder: Path) -> int | None:
    if fcntl is None or not folder.is_dir():
        return None
    for flags in (os.O_RDWR | os.O_CREAT, os.O_RDONLY):  # flock works on a read-only descriptor too
        try:
            return os.open(folder / LOCK, flags, 0o644)
        except OSError:
            continue
    return None


def make_folder(folder: Path, levels: int = 1) -> None:
    """Create `folder` (and parents). A regular file where it, or one of its `levels - 1`
    parents, should be is a damaged cache: it is removed, with a warning, and replaced."""
    for path in reversed([folder, *folder.parents][:levels]):
        if (path.exists() or path.is_symlink()) and not path.is_dir():  # a file, or a dangling link
            warnings.warn(f"{path} is a file where a cache folder belongs; replacing it", stacklevel=3)
            try:
                path.unlink()
            except (FileNotFoundError, IsADirectoryError):  # another process replaced it first
                pass
    folder.mkdir(parents=True, exist_ok=True)


def prune(folder: Path, keep: set[str]) -> None:
    """Remove what `folder` holds besides `keep` and the lock: files and folders of
    earlier states, and temp files whose writer is gone. Call with the exclusive lock."""
    for path in folder.iterdir():
        if path.name in keep or path.name == LOCK or (path.name.endswith(TEMP_SUFFIX) and not stale_temp(path)):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
