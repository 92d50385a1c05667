"""What the upload routes (images, sounds) share: a client's file name and base64 data
checked, each file kept once under the collection's folder by the SHA-1 of its bytes,
and the write that adds them, after which no file of a failed or skipped upload stays."""

import base64
import binascii
import hashlib
from pathlib import Path
from typing import Callable

from .. import validate
from ..atomic import atomic_write
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


def land(lock, paths: list[Path], raws: list[bytes], add: Callable[[], tuple[list[str], list]], ids: list[str]) -> dict:
    """Under the collection's write lock (so a concurrent request's failure cannot remove
    a file this one's documents name), keep each file not kept yet, whole (temp + rename:
    a failed write leaves no truncated copy for later uploads of the same bytes to reuse),
    then run the write `add` (ids written, [Skipped(path, reason)]). The copies this
    request made are removed if anything fails, and those of skipped files after it.
    The route's reply."""
    with lock.writing():
        created = []
        try:
            for path, raw in zip(paths, raws):
                if not path.exists():
                    atomic_write(path, lambda tmp, raw=raw: tmp.write_bytes(raw))
                    created.append(path)
            written, skipped = add()
        except BaseException:
            for path in created:  # nothing landed: keep no file of it
                path.unlink(missing_ok=True)
            raise
        bad = {s.path: s.reason for s in skipped}
        for path in created:
            if str(path) in bad:
                path.unlink(missing_ok=True)
    return {
        "ids": written,
        "skipped": [{"index": i, "id": ids[i], "reason": bad[str(p)]} for i, p in enumerate(paths) if str(p) in bad],
    }
