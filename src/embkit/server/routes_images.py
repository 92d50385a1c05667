"""Image documents over HTTP: uploads, thumbnails for result pages, and query images
sent as base64 in a search body."""

import base64
import binascii
import hashlib
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from .. import validate
from ..errors import EmbkitError
from ..image_documents import UPLOADS
from .auth import requires
from .hosting import NotFound
from .schemas import AddImages
from .state import hosted, limits

router = APIRouter(tags=["images"])


@router.get("/collections/{name}/thumbnails/{doc_id:path}")
def thumbnail(name: str, doc_id: str, request: Request, _=Depends(requires("read"))) -> FileResponse:
    """The WebP thumbnail (at most 256 px) of an image document."""
    h = hosted(request, name)
    with h.lock.reading():  # a file named in metadata is read only under the roots the server was given
        path = h.collection.thumbnail(doc_id, roots=request.app.state.image_roots)
    if path is None:
        raise NotFound(f"id: no image document with id {doc_id!r} (or its file is gone)")
    return FileResponse(path, media_type="image/webp", headers={"Cache-Control": "private, max-age=3600"})




@router.post("/collections/{name}/images")
def add_images(name: str, body: AddImages, request: Request, _=Depends(requires("write"))) -> dict:
    """Upload images into the collection's image space, in one transaction. The files
    are kept in the collection's folder; an image that does not decode is skipped and
    reported, the others land."""
    limits(request).batch(len(body.images), "images")
    for i, image in enumerate(body.images):  # before any file is kept
        check_filename(image.filename, f"images[{i}].filename")
        if image.id is not None:
            validate.check_unicode(image.id, f"images[{i}].id")
    validate.check_metadatas([image.metadata for image in body.images], len(body.images))
    raws = [decode_base64(image.data, f"images[{i}].data") for i, image in enumerate(body.images)]
    h = hosted(request, name)
    folder = h.collection.path / UPLOADS
    folder.mkdir(parents=True, exist_ok=True)
    paths, created = [], []
    for raw, image in zip(raws, body.images):
        path = folder / (hashlib.sha1(raw).hexdigest() + Path(image.filename or "").suffix.lower()[:8])
        if not path.exists():
            path.write_bytes(raw)
            created.append(path)
        paths.append(str(path))
    ids = [image.id or Path(path).stem for image, path in zip(body.images, paths)]
    metadatas = [{**(image.metadata or {}), **({"filename": image.filename} if image.filename else {})}
                 for image in body.images]
    try:
        with h.lock.writing():
            written, skipped = h.collection.add_images(paths, ids=ids, metadatas=metadatas, upsert=body.upsert)
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
    if data.startswith("data:"):
        data = data.split(",", 1)[-1]
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise EmbkitError(f"{field}: not valid base64") from None


def decode_image(data: str):
    """A PIL image from base64 (a `data:image/...;base64,` prefix is allowed)."""
    from ..encoders.clip import open_image

    return open_image(decode_base64(data, "image"))
