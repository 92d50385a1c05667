"""Image documents over HTTP: thumbnails for result pages, and query images sent as
base64 in a search body."""

import base64
import binascii
import io

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from ..errors import EmbkitError
from .auth import requires
from .hosting import NotFound
from .state import hosted

router = APIRouter(tags=["images"])


@router.get("/collections/{name}/thumbnails/{doc_id:path}")
def thumbnail(name: str, doc_id: str, request: Request, _=Depends(requires("read"))) -> FileResponse:
    """The WebP thumbnail (at most 256 px) of an image document."""
    h = hosted(request, name)
    with h.lock.reading():
        path = h.collection.thumbnail(doc_id)
    if path is None:
        raise NotFound(f"id: no image document with id {doc_id!r} (or its file is gone)")
    return FileResponse(path, media_type="image/webp", headers={"Cache-Control": "private, max-age=3600"})


def decode_image(data: str):
    """A PIL image from base64 (a `data:image/...;base64,` prefix is allowed)."""
    from PIL import Image, UnidentifiedImageError

    if data.startswith("data:"):
        data = data.split(",", 1)[-1]
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise EmbkitError("image: not valid base64") from None
    try:
        with Image.open(io.BytesIO(raw)) as opened:
            return opened.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise EmbkitError(f"image: not a readable image ({type(e).__name__})") from None
