"""ONNX models whose weights sit in a file of their own, which onnxruntime maps into
memory instead of copying.

A model file with its weights inside is parsed into protobuf buffers, copied into
tensors and then prepacked: all-MiniLM-L6-v2 (86 MiB) costs a process ~130 MiB, with a
load peak of ~150 MiB more. With the weights apart, onnxruntime maps the file, keeps
what it prepacks, and the rest (the 45 MiB word-embedding table, of which a query
reads a few rows) are page-cache pages shared by every process: ~55 MiB a process,
and the same vectors to the bit. embkit's own exports (export.py) are written this way
(`write_apart`) and load as they are; another model file with its weights inside is
copied once, kept under EMBKIT_HOME/models, named by a fingerprint of its source.
"""

import fcntl
import glob
import hashlib
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from ..atomic import fsync_path, stale_temp, temp_name
from ..paths import embkit_home

MIN_BYTES = 8 * 1024 * 1024  # smaller files (or ones whose weights are apart already) load as they are
LAYOUT_VERSION = "1"  # bump when the layout written here changes


def weights_apart(onnx_path: Path) -> Path:
    """The model at `onnx_path` with its weights in a side file (`NAME.data`), made and
    cached if missing; `onnx_path` itself when it is small, or when EMBKIT_HOME cannot
    be written (the model then loads as before, copied)."""
    onnx_path = Path(onnx_path)
    stat = onnx_path.stat()
    if stat.st_size < MIN_BYTES:
        return onnx_path
    # inode and ctime too: a file copied over with its size and mtime kept (cp -p, rsync -t)
    # gets a new inode or ctime, which no utime can set back
    key = f"{onnx_path.resolve()}|{file_identity(stat)}|{LAYOUT_VERSION}"
    target = embkit_home() / "models" / f"{onnx_path.stem}-{hashlib.sha256(key.encode()).hexdigest()[:16]}-mapped.onnx"
    if not complete(target):
        try:
            write_apart(target, lambda path: _write(onnx_path, path, file_identity(stat)))
        except OSError:
            return onnx_path
    return target


def weights_file(onnx_path: Path) -> Path:
    """The side file that holds the weights of a model written here: `NAME.onnx.data`."""
    return onnx_path.with_name(onnx_path.name + ".data")


def complete(onnx_path: Path) -> bool:
    """True when the model and its weights file are both in place (else it is made again)."""
    return onnx_path.exists() and weights_file(onnx_path).exists()


def file_identity(stat: os.stat_result) -> str:
    """A file's identity for a cache key: a file copied over with its size and mtime
    kept (`rsync -t`, `cp -p`) still gets a new inode or ctime."""
    return f"{stat.st_dev}|{stat.st_ino}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ctime_ns}"


def write_apart(target: Path, write: Callable[[Path], object]) -> None:
    """Make `target` and its weights file (`weights_file`) by `write(path)`, which writes
    the model to `path` with its weights in `weights_file(path)`, unless both are in place.
    Both are written in a private folder, flushed, then renamed into place, the weights
    first: `target` never appears without its weights. A crash while writing leaves only
    the private folder (removed by the next build once its writer is gone); one between
    the two renames, a complete weights file without its model, which the next build
    replaces. One build at a time (a lock file beside `target`): a second process asking
    for the same export waits for the first one's, then uses it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(target.with_name(target.name + ".lock")):
        if not complete(target):  # else another process built it while this one waited
            _build(target, write)


@contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """Hold an exclusive flock on `lock`, removed when done (no lock file is left beside
    the export). A waiter woken on a lock file since removed, or replaced, locks anew:
    two processes never hold two different files of the same name."""
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.path.samestat(os.fstat(fd), os.stat(lock)):
                break
        except FileNotFoundError:  # removed by the holder that just finished
            pass
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)  # while still held: a waiter then sees it gone and locks anew
        os.close(fd)


def _build(target: Path, write: Callable[[Path], object]) -> None:
    """write_apart's build, under its lock."""
    for left in target.parent.glob(glob.escape(target.name) + ".*.tmp"):  # a crashed build's folder
        if left.is_dir() and stale_temp(left):
            shutil.rmtree(left, ignore_errors=True)
    work = target.parent / temp_name(target.name)
    work.mkdir()
    try:
        write(work / target.name)
        data = weights_file(target).name
        if not (work / data).exists():  # a model too small to have weights apart
            (work / data).write_bytes(b"")
        for name in (data, target.name):  # on disk before the renames: a crash leaves no half-written file in place
            fsync_path(work / name)
        if target.exists() and not weights_file(target).exists():
            # an older layout's model, its weights inside: gone first, else a crash between the
            # renames left it beside the new weights file, passing for complete() for good
            target.unlink(missing_ok=True)
        os.replace(work / data, target.parent / data)
        os.replace(work / target.name, target)
        fsync_path(target.parent)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def drop_mapped_copies(onnx_path: Path) -> None:
    """Remove the copies weights_apart made of an older `onnx_path` that held its weights
    inside (an older embkit's export, now written apart itself): nothing loads them again.
    A process that mapped one keeps its pages."""
    for copy in onnx_path.parent.glob(glob.escape(onnx_path.stem) + "-" + "?" * 16 + "-mapped.onnx"):
        for path in (weights_file(copy), copy):
            path.unlink(missing_ok=True)


def copy_apart(source: Path, target: Path) -> None:
    """Copy the model at `source`, weights apart, to `target` and `weights_file(target)`
    (its tensors' location renamed to match): a model folder's own `model.onnx`."""
    import onnx
    from onnx.external_data_helper import _get_all_tensors, uses_external_data

    model = onnx.load(str(source), load_external_data=False)
    for tensor in _get_all_tensors(model):
        for entry in tensor.external_data if uses_external_data(tensor) else ():
            if entry.key == "location":
                if entry.value != weights_file(source).name:
                    raise ValueError(f"{source}: tensor {tensor.name} is not in {weights_file(source).name}")
                entry.value = weights_file(target).name
    shutil.copyfile(weights_file(source), weights_file(target))
    onnx.save_model(model, str(target))


def _write(source: Path, path: Path, identity: str) -> None:
    """The model at `source` written to `path` with its weights in `weights_file(path)`."""
    import onnx
    from onnx.external_data_helper import load_external_data_for_model

    with open(source, "rb") as file:  # the file the key was made from, not one renamed over it since
        if file_identity(os.fstat(file.fileno())) != identity:
            raise OSError(f"{source} changed while it was being read")
        model = onnx.load(file, load_external_data=False)
    load_external_data_for_model(model, str(source.parent))
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=weights_file(path).name, size_threshold=1024)
