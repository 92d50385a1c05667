"""What the upload routes (images, sounds) share: a client's file name and base64 data
checked, each file kept once under the collection's folder by the SHA-1 of its bytes,
and the write that adds them, after which no file of a failed or skipped upload stays."""

import base64
import binascii
import hashlib
from pathlib import Path
from typing import Callable

from .. import validate
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


def keep_files(folder: Path, raws: list[bytes], suffixes: list[str]) -> tuple[list[str], list[Path]]:
    """(the path of each file's copy, the copies this request wrote): named by the SHA-1
    of the bytes, so the same file uploaded twice is one file."""
    folder.mkdir(parents=True, exist_ok=True)
    paths, created = [], []
    for raw, suffix in zip(raws, suffixes):
        path = folder / (hashlib.sha1(raw).hexdigest() + suffix)
        if not path.exists():
            path.write_bytes(raw)
            created.append(path)
        paths.append(str(path))
    return paths, created


def land(add: Callable[[], tuple[list[str], list]], paths: list[str], created: list[Path], ids: list[str]) -> dict:
    """Run the write `add` (ids written, [Skipped(path, reason)]); the copies this request
    made are removed if it fails, and those of skipped files after it. The route's reply."""
    try:
        written, skipped = add()
    except BaseException:
        for path in created:  # nothing landed: keep no file of it
            path.unlink(missing_ok=True)
        raise
    bad = {s.path: s.reason for s in skipped}
    for path in created:
        if str(path) in bad:
            path.unlink(missing_ok=True)
    return {"ids": written, "skipped": [{"index": i, "id": ids[i], "reason": bad[p]}
                                        for i, p in enumerate(paths) if p in bad]}
