"""What the upload routes (images, sounds) share: a client's file name and base64 data
checked, each file kept once under the collection's folder by the SHA-1 of its bytes,
and the write that adds them, after which no file of a failed or skipped upload stays."""

import base64
import binascii
import hashlib
import os
from pathlib import Path
from typing import Callable

from .. import validate
from ..atomic import fsync_path, temp_name
from ..errors import EmbkitError


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

    def named(path: Path) -> bool:  # by a stored document (one another server worker added meanwhile)
        return bool(h.collection.get(where={"path": str(path)}, limit=1))

    return land(h.lock, paths, raws, add, ids, named)


def land(
    lock,
    paths: list[Path],
    raws: list[bytes],
    add: Callable[[], tuple[list[str], list]],
    ids: list[str],
    named: Callable[[Path], bool] = lambda path: False,
) -> dict:
    """Keep each file not kept yet, whole: written and synced under a temporary name
    before the collection's write lock is taken (searches do not wait for the disk), and
    renamed under it, so a failed write leaves no truncated copy and a concurrent
    request's failure cannot remove a file this one's documents name. Then run the write
    `add` (ids written, [Skipped(path, reason)]). The copies this request made are
    removed if it fails, and those of skipped files after it, unless a stored document
    names them (`named`). The route's reply."""
    staged = _stage(paths, raws)
    try:
        with lock.writing():
            created = _keep(staged)
            try:
                written, skipped = add()
            except BaseException:
                _drop(created, named)  # nothing landed: keep no file of it
                raise
            bad = {s.path: s.reason for s in skipped}
            _drop([path for path in created if str(path) in bad], named)
    finally:
        for _, tmp in staged:
            tmp.unlink(missing_ok=True)  # one not renamed (a failure before its turn, or kept meanwhile)
    return {
        "ids": written,
        "skipped": [{"index": i, "id": ids[i], "reason": bad[str(p)]} for i, p in enumerate(paths) if str(p) in bad],
    }


def _stage(paths: list[Path], raws: list[bytes]) -> list[tuple[Path, Path]]:
    """(copy, its synced temporary file) for each distinct file (the same bytes twice: once)."""
    staged, seen = [], set()
    try:
        for path, raw in zip(paths, raws):
            if path in seen:  # whether a copy exists is decided under the lock, where it cannot vanish
                continue
            seen.add(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.parent / temp_name(path.name)
            staged.append((path, tmp))
            tmp.write_bytes(raw)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
    except BaseException:
        for _, tmp in staged:
            tmp.unlink(missing_ok=True)
        raise
    return staged


def _keep(staged: list[tuple[Path, Path]]) -> list[Path]:
    """Rename the staged files into place (under the write lock): the copies this request made."""
    created = []
    for path, tmp in staged:
        if not path.exists():  # another request may have kept the same bytes meanwhile
            os.replace(tmp, path)
            created.append(path)
    if created:
        fsync_path(created[0].parent)
    return created


def _drop(created: list[Path], named: Callable[[Path], bool]) -> None:
    for path in created:
        try:
            keep = named(path)
        except Exception:  # the store cannot say: keeping a stray file is the safe side
            keep = True
        if not keep:
            path.unlink(missing_ok=True)
