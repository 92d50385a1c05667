"""Image documents (see image_documents.py): adding image files to the image space and
their cached thumbnails."""

from pathlib import Path
from typing import Sequence

from ..encoders.base import Progress
from ..errors import EmbkitError
from .spaces import IMAGE_SPACE


class ImageVerbs:
    """add_images, thumbnail."""

    def add_images(
        self,
        paths: Sequence[str],
        *,
        ids: Sequence[str] | None = None,
        metadatas: Sequence[dict] | None = None,
        upsert: bool = False,
        batch_size: int = 16,
        progress: Progress | None = None,
        space: str = IMAGE_SPACE,
    ):
        """Embed image files (png, jpg, webp) into the image space in one transaction,
        with metadata path, bytes, width, height, format and EXIF `taken`, and cache a
        thumbnail of each. Ids default to the paths. A file that is not a readable image
        is skipped: returns (ids written, [Skipped(path, reason)])."""
        from ..image_documents import add_images

        if space not in self.spaces:
            raise EmbkitError(
                f"space: the collection has no {space!r} space; add one with add_space({space!r}, "
                "MODEL) or create the collection with image_model="
            )
        target = self.in_space(space)
        return add_images(
            target,
            paths,
            image_encoder=lambda: target._encoder_for("image", "images"),
            refuse_existing=target._store.refuse_existing,
            ids=ids,
            metadatas=metadatas,
            upsert=upsert,
            batch_size=batch_size,
            progress=progress,
        )

    def thumbnail(self, doc_id: str, roots: Sequence[str | Path] | None = None) -> Path | None:
        """The cached thumbnail (WebP) of an image document, made again from the file if
        it went missing; None for a document that is not an image. Given `roots` (as a
        server does), a file is read only from the collection's own uploads or under them."""
        from ..image_documents import thumbnail

        return thumbnail(self, doc_id, roots)
