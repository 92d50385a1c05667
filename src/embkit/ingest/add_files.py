"""Files and folders into a collection: the one library function behind `embkit add`
and `Collection.add_files`. Images go to the image space (made from --image-model or
the text model's paired tower when missing), everything else through the text path;
a folder's files the collection cannot take are skipped and reported by kind."""

import time
from contextlib import nullcontext
from pathlib import Path
from typing import NamedTuple, Sequence

from .. import validate
from ..errors import EmbkitError
from .chunk import check_chunking
from .image_files import is_image_path, split_paths, walk_files
from .selection import check_patterns
from .skips import IMAGE, NOT_IMAGE, Skipped, summary
from .text_files import ProgressFactory, TextsAdded, add_text_files

# the collection's space names (collection.py), repeated here since this layer sits below it
TEXT_SPACE, IMAGE_SPACE = "text", "image"


class ImagesAdded(NamedTuple):
    """Image documents written (ids are the paths), images skipped, seconds spent."""

    ids: list[str]
    skipped: list[Skipped]
    seconds: float


class FilesAdded(NamedTuple):
    """What `add_files` did: each path's result (None where no file went that way) and
    every file skipped, whichever path it came through."""

    texts: TextsAdded | None
    images: ImagesAdded | None
    skipped: list[Skipped]

    @property
    def ids(self) -> list[str]:
        """Every record id written: text records (one per chunk), then images."""
        return (self.texts.ids if self.texts else []) + (self.images.ids if self.images else [])

    @property
    def warnings(self) -> list[str]:
        """Lines for the user besides the skipped files (texts stored whole that the
        model truncates)."""
        return self.texts.warnings if self.texts else []

    @property
    def summary(self) -> str:
        """The one warning line over the skipped files ('' when none)."""
        return summary(self.skipped)


def add_files(col, paths: Sequence[str], *, include: Sequence[str] | None = None,
              exclude: Sequence[str] | None = None, text_column: str = "text", id_column: str = "id",
              upsert: bool = False, batch_size: int = 32, chunk: bool = True, chunk_tokens: int = 256,
              overlap: int = 32, image_model: str | None = None,
              max_document_bytes: int = validate.MAX_DOCUMENT_BYTES,
              bars: ProgressFactory | None = None) -> FilesAdded:
    """Add files and folders (walked recursively; `include`/`exclude` glob patterns choose
    a folder's files, see selection.py). A folder's file the collection cannot take (an
    image without an image space, an unknown format, an unreadable file) is skipped and
    returned; a file named explicitly that cannot be taken is an error, and so is a
    bad record anywhere. Fails when nothing at all could be added."""
    if isinstance(paths, (str, Path)) or not paths:
        raise EmbkitError("paths: give a list of one or more files or folders")
    paths = [str(p) for p in paths]
    include, exclude = check_patterns(include, "include"), check_patterns(exclude, "exclude")
    if chunk:
        check_chunking(chunk_tokens, overlap)
    validate.check_max_document_bytes(max_document_bytes)
    image_paths, text_paths = split_paths(paths, include, exclude)
    named = [p for p in paths if p != "-" and not Path(p).is_dir() and is_image_path(p)]
    images, skipped = None, []
    if image_paths and (named or IMAGE_SPACE in col.spaces or image_model or _paired_image_tower(col)):
        images = add_image_files(col, image_paths, upsert=upsert, image_model=image_model, bars=bars)
        skipped += images.skipped
    elif image_paths:  # found in folders, and nowhere to put them
        skipped += [Skipped(p, "an image, and the collection has no image space", IMAGE) for p in image_paths]
    if TEXT_SPACE not in col.spaces:  # an image collection: other files have nowhere to go
        skipped += [Skipped(f, "not an image (the collection holds images only)", NOT_IMAGE)
                    for f in walk_files(text_paths, include, exclude)]
        text_paths = []
    texts = None
    if text_paths:
        texts = add_text_files(col, text_paths, text_column=text_column, id_column=id_column, include=include,
                               exclude=exclude, upsert=upsert, batch_size=batch_size, chunk=chunk,
                               chunk_tokens=chunk_tokens, overlap=overlap, max_document_bytes=max_document_bytes,
                               bars=bars)
        skipped += texts.skipped
    done = FilesAdded(texts, images, skipped)
    if not done.ids:
        found = f" ({summary(skipped, verbose=True)})" if skipped else ""
        raise EmbkitError(f"files: no documents found in {', '.join(paths)}{found}")
    return done


def add_image_files(col, paths: Sequence[str], *, upsert: bool = False, image_model: str | None = None,
                    bars: ProgressFactory | None = None) -> ImagesAdded:
    """Embed images into the image space, creating it from `image_model` (or the text
    model's paired image tower) if missing, else failing; unreadable images are skipped."""
    if IMAGE_SPACE not in col.spaces:
        tower = image_model or _paired_image_tower(col)
        if tower is None:
            raise EmbkitError(f"files: {len(paths)} image(s) given but the collection has no image space and "
                              "its model no image tower; pass --image-model (a CLIP folder) or create the "
                              "collection with `embkit init PATH --model FOLDER#image`")
        col.add_space(IMAGE_SPACE, tower)
    start = time.perf_counter()
    with (bars or (lambda n, label: nullcontext()))(len(paths), "embedding images") as advance:
        ids, skipped = col.add_images(list(paths), upsert=upsert, progress=advance)
    return ImagesAdded(ids, skipped, time.perf_counter() - start)


def _paired_image_tower(col) -> str | None:
    """The image half of the text model (a CLIP text tower), if it has one."""
    return col.encoder.paired if col.space.model != "none" else None
