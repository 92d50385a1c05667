"""What the upload routes (images, sounds) share: a client's file name and base64 data
checked, each file kept once under the collection's folder by the SHA-1 of its bytes,
and the write that adds them, after which no file of a failed or skipped upload stays."""

import base64
import binascii
import contextlib
import fcntl
import hashlib
import os
from pathlib import Path
from typing import Callable

from .. import validate
from ..atomic import TEMP_SUFFIX, fsync_path, temp_name
from ..errors import EmbkitError
from ..ingest.held_files import hold, remove_unheld

LOCK_SUFFIX = ".lock"  # FOLDER.lock beside an upload folder: taken while its copies are kept, written, cleaned up
LANDING_SUFFIX = ".landing"  # a note of the copies a write is making (_note_landing), in the upload folder


def check_filename(name: str | None, field: str) -> None:
    """A client's file name is kept as metadata and gives the stored copy its suffix."""
    if name is None:
        return
    validate.check_unicode(name, field)
    if "\x00" in name:
        raise EmbkitError(f"{field}: contains a NUL character")
    if len(name) > validate.MAX_ID_CHARS:
        raise EmbkitError(f"{field}: {len(name)} characters exceeds the limit of {validate.MAX_ID_CHARS}")


def check_items(items: list, field: str) -> None:
    """Each uploaded item's file name, id and metadata, before any file is kept."""
    for i, item in enumerate(items):
        check_filename(item.filename, f"{field}[{i}].filename")
        if item.id is not None:
            validate.check_unicode(item.id, f"{field}[{i}].id")
    validate.check_metadatas([item.metadata for item in items], len(items))


def decode_base64(data: str, field: str) -> bytes:
    """The bytes of base64 `data` (a `data:...;base64,` prefix is allowed)."""
    if data.startswith("data:"):
        data = data.split(",", 1)[-1]
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise EmbkitError(f"{field}: not valid base64") from None


def upload_paths(folder: Path, raws: list[bytes], suffixes: list[str]) -> list[Path]:
    """Where each file's copy is kept: named by the SHA-1 of its bytes, so the same file
    uploaded twice is one file."""
    return [folder / (hashlib.sha1(raw).hexdigest() + suffix) for raw, suffix in zip(raws, suffixes)]


def store_uploads(h, items: list, raws: list[bytes], suffixes: list[str], folder: Path, add_files) -> dict:
    """Keep the uploaded files `raws` of `items` (each with `id`, `filename`, `metadata`)
    under `folder` and add them by `add_files(paths, ids=, metadatas=)` (the collection's
    add_images or add_audio): the route's reply. An item without an id gets the SHA-1 of
    its bytes; its file name is kept in its metadata."""
    paths = upload_paths(folder, raws, suffixes)
    ids = [item.id or path.stem for item, path in zip(items, paths)]
    metadatas = [{**(item.metadata or {}), **({"filename": item.filename} if item.filename else {})} for item in items]

    def add():
        return add_files([str(path) for path in paths], ids=ids, metadatas=metadatas)

    return land(h.lock, folder, paths, raws, add, ids)


def land(
    lock, folder: Path, paths: list[Path], raws: list[bytes], add: Callable[[], tuple[list[str], list]], ids: list[str]
) -> dict:
    """Keep each file not kept yet, whole, then run the write `add` (ids written,
    [Skipped(path, reason)]); the copies this request made are removed if it fails, and
    those of skipped files after it. The route's reply. Files are written and synced under
    temporary names first (searches do not wait for the disk), then renamed, written and
    cleaned up holding `folder`'s lock file (FOLDER.lock beside it), which every server worker (a process) and
    thread takes: no other request can find a copy made by one whose write then fails."""
    held: list = []  # the temp files and the note, each locked while this write may still use it (held_files)
    try:
        staged = _stage(folder, paths, raws, held)
        try:
            with folder_lock(folder), lock.writing():
                new_copies = [path.name for path, _ in staged if not path.exists()]
                # a note only if copies will be made: none to settle after a kill, no fsync otherwise
                notes = [_note_landing(folder, new_copies, held)] if new_copies else []
                try:
                    created = _keep(staged)
                    try:
                        written, skipped = add()
                    except BaseException:
                        _drop(created)  # nothing landed: keep no file of it
                        raise
                    bad = {s.path: s.reason for s in skipped}
                    _drop([path for path in created if str(path) in bad])
                finally:
                    _drop(notes)  # the write ended, either way: its copies are settled
        finally:
            _drop([tmp for _, tmp in staged])  # one not renamed (a failure before its turn, or kept meanwhile)
    finally:
        for f in held:  # only now may another process's start take them for a dead writer's
            f.close()
    return {
        "ids": written,
        "skipped": [{"index": i, "id": ids[i], "reason": bad[str(p)]} for i, p in enumerate(paths) if str(p) in bad],
    }


@contextlib.contextmanager
def folder_lock(folder: Path):
    with open(folder.with_name(folder.name + LOCK_SUFFIX), "a+b") as f:  # separate opens exclude each other
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


_swept: set[Path] = set()  # upload folders whose dead writers' temp files this process removed


def sweep(folder: Path) -> None:
    """The temp files of writers killed mid-upload removed from `folder`, once a process:
    those whose lock no process holds (held_files; a writer that still runs, another
    worker or another container's server whatever its pid, holds its own)."""
    if folder in _swept:
        return
    _swept.add(folder)
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):  # no upload yet: no folder
        remove_unheld(folder.glob("*" + TEMP_SUFFIX))


def _note_landing(folder: Path, names: list[str], held: list) -> Path:
    """A file in `folder` naming the copies a write is about to make (one a line), synced
    before any is made and removed once the write has ended: a process killed between
    leaves it, and the next server's start removes the copies no document names
    (upload_recovery.py). Its lock is held (added to `held`) until the write has ended."""
    note = folder / (temp_name("landing") + LANDING_SUFFIX)
    f = hold(note)
    held.append(f)
    f.write("".join(name + "\n" for name in names).encode("utf-8"))
    f.flush()
    os.fsync(f.fileno())
    return note


def _stage(folder: Path, paths: list[Path], raws: list[bytes], held: list) -> list[tuple[Path, Path]]:
    """(copy, its synced temporary file) for each distinct file (the same bytes twice: once),
    each temp file's lock held (added to `held`) until the caller closes it. The first
    time in a process, temp files of writers killed mid-upload are removed."""
    folder.mkdir(parents=True, exist_ok=True)
    sweep(folder)
    staged, seen = [], set()
    try:
        for path, raw in zip(paths, raws):
            if path in seen:  # whether a copy exists is decided under the lock, where it cannot vanish
                continue
            seen.add(path)
            tmp = folder / temp_name(path.name)
            staged.append((path, tmp))
            f = hold(tmp)
            held.append(f)
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        _drop([tmp for _, tmp in staged])
        raise
    return staged


def _keep(staged: list[tuple[Path, Path]]) -> list[Path]:
    """Rename the staged files into place (under the lock): the copies this request made."""
    created = []
    try:
        for path, tmp in staged:
            if not path.exists():  # an earlier request kept the same bytes
                os.replace(tmp, path)
                created.append(path)
        if created:
            fsync_path(created[0].parent)
    except BaseException:  # a rename failed partway: the copies made so far are named by no document
        _drop(created)
        raise
    return created


def _drop(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
