"""Image documents in a collection: embedded by the image space's encoder, described by
their file's metadata, each with a cached thumbnail for result pages. The collection
hands itself in as an `ImageSpace` (this module sits below collection.py)."""

import contextlib
import re
import warnings
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from . import validate
from .encoders import Encoder
from .errors import EmbkitError
from .ingest.folder import Skipped
from .ingest.image_files import Unreadable, read_image, save_thumbnail, thumbnail_bytes, thumbnail_path
from .paths import file_inside


class ImageSpace(Protocol):
    """What image documents need of a collection's image space (a `Collection` is one)."""

    path: Path  # the collection's folder: thumbnails and uploads live under it

    def get(self, ids: Sequence[str]) -> list: ...

    def add(self, *, ids: list[str], metadatas: list[dict], vectors: np.ndarray) -> object: ...

    def upsert(self, *, ids: list[str], metadatas: list[dict], vectors: np.ndarray) -> object: ...


THUMBNAILS = "thumbnails"
UPLOADS = "images"  # image files the collection keeps itself (uploads), named by their content's hash
_CONTENT_NAME = re.compile(r"^[0-9a-f]{40}(\.[a-z0-9]{1,7})?$")  # sha1 hex + the upload's suffix


def add_images(
    col: ImageSpace,
    paths: Sequence[str],
    *,
    image_encoder: Callable[[], Encoder],
    refuse_existing: Callable[[list[str]], None],
    ids,
    metadatas,
    upsert: bool,
    batch_size: int,
    progress,
):
    """(ids written, skipped files). `image_encoder()` gives the encoder that embeds
    images into `col`'s space (asked once the input is checked); `refuse_existing`
    raises for ids already stored (called before any image is decoded).
    Images are decoded a batch at a time; only vectors and small thumbnails are kept
    until the one transaction that writes them all, and the thumbnails reach the disk
    only once it has committed."""
    if isinstance(paths, (str, Path)) or not isinstance(paths, Sequence):
        raise EmbkitError("paths: expected a list of image file paths")
    paths = [str(p) for p in paths]
    if ids is not None:
        ids = validate.check_ids(ids, len(paths))
    metadatas = validate.check_metadatas(metadatas, len(paths))
    ids = list(ids) if ids is not None else paths
    if len(set(ids)) != len(ids):
        raise EmbkitError("ids: the same id (or path) twice in one batch")
    encoder = image_encoder()
    if not upsert:  # fail before decoding anything; checked again inside the transaction
        refuse_existing(ids)
    kept_ids, kept_meta, vectors, thumbs, skipped = [], [], [], [], []
    for start in range(0, len(paths), batch_size):
        found = []
        for i in range(start, min(start + batch_size, len(paths))):
            try:
                image = read_image(paths[i])
            except Unreadable as e:
                skipped.append(Skipped(paths[i], str(e)))
                continue
            found.append(image)
            kept_ids.append(ids[i])
            kept_meta.append({**image.metadata, **metadatas[i]})
            thumbs.append(thumbnail_bytes(image.image))
        if found:
            vectors.append(encoder.encode([f.image for f in found], batch_size=batch_size))
        if progress:
            progress(min(batch_size, len(paths) - start))
    if not kept_ids:
        return [], skipped
    write = col.upsert if upsert else col.add
    write(ids=kept_ids, metadatas=kept_meta, vectors=np.concatenate(vectors))
    for doc_id, data in zip(kept_ids, thumbs):
        dest = thumbnail_path(col.path / THUMBNAILS, doc_id)
        try:  # the write has landed: a thumbnail is a cache, drawn again from its file when asked for
            save_thumbnail(data, dest)
        except OSError as e:
            with contextlib.suppress(OSError):  # an upsert's old picture must not be shown for the new one
                dest.unlink(missing_ok=True)
            warnings.warn(
                f"thumbnail of {doc_id!r} not saved ({e.strerror or e}); drawn when first asked for", stacklevel=2
            )
    return kept_ids, skipped


def thumbnail(col: ImageSpace, doc_id: str, roots: Sequence[str | Path] | None = None) -> Path | None:
    """The cached thumbnail of an image document, made again from its file if missing.
    With `roots` (a server: metadata comes from its clients), the file is read only if
    it lies in the collection's own upload folder or under one of `roots`: a path in
    metadata must never make the server read a file of its choosing."""
    found = col.get([doc_id]) if isinstance(doc_id, str) else []
    if not found or not found[0].metadata.get("image"):
        return None
    dest = thumbnail_path(col.path / THUMBNAILS, doc_id)
    if dest.is_file():
        return dest
    source = found[0].metadata.get("path")
    if not isinstance(source, str):
        return None
    kept = _kept_copy(col, source)
    if kept is not None:
        source = str(kept)
    elif roots is not None and not file_inside(source, [col.path / UPLOADS, *roots]):
        return None
    try:
        return save_thumbnail(thumbnail_bytes(read_image(source).image), dest)
    except Exception:  # the original moved or broke: no picture, the document stays
        return None


def _kept_copy(col: ImageSpace, source: str) -> Path | None:
    """The collection's own copy of an uploaded image `source` names: uploads are named
    by their content's hash, so the copy is found by that name wherever the folder now
    lies (moved, or restored from a snapshot), and never outside the upload folder."""
    name = Path(source).name
    if not _CONTENT_NAME.match(name):
        return None
    copy = col.path / UPLOADS / name
    return copy if file_inside(str(copy), [col.path / UPLOADS]) else None
