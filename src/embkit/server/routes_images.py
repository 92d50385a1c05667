"""Image documents over HTTP: uploads, thumbnails for result pages, and query images
sent as base64 in a search body."""

import functools
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from ..image_documents import UPLOADS
from .auth import requires
from .byte_ranges import file_response
from .hosting import NotFound
from .params_unread import refuse_unread
from .schemas import AddImages
from .state import hosted, limits
from .uploads import check_items, decode_base64, store_uploads

router = APIRouter(tags=["images"], dependencies=[Depends(refuse_unread)])


@router.get("/collections/{name}/thumbnails/{doc_id:path}")
def thumbnail(name: str, doc_id: str, request: Request, _=Depends(requires("read"))) -> FileResponse:
    """The WebP thumbnail (at most 256 px) of an image document."""
    h = hosted(request, name)
    with h.lock.reading():  # a file named in metadata is read only under the roots the server was given
        path = h.collection.thumbnail(doc_id, roots=request.app.state.image_roots)
    if path is None:
        raise NotFound(f"id: no image document with id {doc_id!r} (or its file is gone)")
    return file_response(request, path, "image/webp", {"Cache-Control": "private, max-age=3600"})


@router.post("/collections/{name}/images")
def add_images(name: str, body: AddImages, request: Request, _=Depends(requires("write"))) -> dict:
    """Upload images into the collection's image space, in one transaction. The files
    are kept in the collection's folder; an image that does not decode is skipped and
    reported, the others land."""
    limits(request).batch(len(body.images), "images")
    check_items(body.images, "images")
    raws = [decode_base64(image.data, f"images[{i}].data") for i, image in enumerate(body.images)]
    h = hosted(request, name)
    suffixes = [Path(image.filename or "").suffix.lower()[:8] for image in body.images]
    add_files = functools.partial(h.collection.add_images, upsert=body.upsert)
    return store_uploads(h, body.images, raws, suffixes, h.collection.path / UPLOADS, add_files)


def decode_image(data: str):
    """A PIL image from base64 (a `data:image/...;base64,` prefix is allowed)."""
    from ..encoders.clip import open_image

    return open_image(decode_base64(data, "image"))
