"""Files and folders into a collection: the one library function behind `embkit add`
and `Collection.add_files`. Images go to the image space (made from --image-model or
the text model's paired tower when missing), everything else through the text path;
sounds to the audio space (the text model's paired audio tower when missing), one
document per file; a folder's files the collection cannot take are skipped and reported by kind."""

import time
from contextlib import nullcontext
from pathlib import Path
from typing import NamedTuple, Sequence

from .. import validate
from ..errors import EmbkitError
from .audio_files import is_audio_path
from .chunk import check_chunking
from .image_files import is_image_path
from .media_paths import split_media, walk_others
from .selection import check_patterns
from .skips import AUDIO, IMAGE, Skipped, not_held, summary
from .text_files import ProgressFactory, TextsAdded, add_text_files

# the collection's space names (collection.py), repeated here since this layer sits below it
TEXT_SPACE, IMAGE_SPACE, AUDIO_SPACE = "text", "image", "audio"


class ImagesAdded(NamedTuple):
    """Image documents written (ids are the paths), images skipped, seconds spent."""

    ids: list[str]
    skipped: list[Skipped]
    seconds: float


class AudioAdded(NamedTuple):
    """Audio documents written (ids are the paths), files skipped, seconds spent."""

    ids: list[str]
    skipped: list[Skipped]
    seconds: float


class FilesAdded(NamedTuple):
    """What `add_files` did: each path's result (None where no file went that way) and
    every file skipped, whichever path it came through."""

    texts: TextsAdded | None
    images: ImagesAdded | None
    skipped: list[Skipped]
    audio: AudioAdded | None = None

    @property
    def ids(self) -> list[str]:
        """Every id written: text records (one per chunk), then images, then audio documents."""
        return ((self.texts.ids if self.texts else []) + (self.images.ids if self.images else [])
                + (self.audio.ids if self.audio else []))

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
              overlap: int = 32, image_model: str | None = None, audio_model: str | None = None,
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
    image_paths, audio_paths, text_paths = split_media(paths, include, exclude)
    # refuses a named sound with nowhere to go, before any write
    audio_tower = _audio_tower(col, paths, audio_paths, audio_model)
    named = [p for p in paths if p != "-" and not Path(p).is_dir() and is_image_path(p)]
    images, skipped = None, []
    if image_paths and (named or IMAGE_SPACE in col.spaces or image_model or _paired_image_tower(col)):
        images = add_image_files(col, image_paths, upsert=upsert, image_model=image_model, bars=bars)
        skipped += images.skipped
    elif image_paths:  # found in folders, and nowhere to put them
        skipped += [Skipped(p, "an image, and the collection has no image space", IMAGE) for p in image_paths]
    audio, audio_skipped = _add_audio(col, audio_paths, audio_tower, upsert, bars)
    skipped += audio_skipped
    if TEXT_SPACE not in col.spaces:  # an image or audio collection: other files have nowhere to go
        skipped += [not_held(f, col.spaces) for f in walk_others(text_paths, include, exclude)]
        text_paths = []
    texts = None
    if text_paths:
        texts = add_text_files(col, text_paths, text_column=text_column, id_column=id_column, include=include,
                               exclude=exclude, upsert=upsert, batch_size=batch_size, chunk=chunk,
                               chunk_tokens=chunk_tokens, overlap=overlap, max_document_bytes=max_document_bytes,
                               bars=bars)
        skipped += texts.skipped
    done = FilesAdded(texts, images, skipped, audio)
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


def _audio_tower(col, paths: list[str], audio_paths: list[str], audio_model: str | None = None) -> str | None:
    """The audio tower that makes a missing audio space (`audio_model`, else the text
    model's pair), "" when the space exists, None when sounds have nowhere to go (an
    error if one was named)."""
    if AUDIO_SPACE in col.spaces or not audio_paths:
        return ""
    tower = audio_model or _paired_tower(col, "#audio")  # a CLAP text tower's pair is its audio tower
    if tower:
        return tower
    named = [p for p in paths if p != "-" and not Path(p).is_dir() and is_audio_path(p)]
    if named:
        raise EmbkitError(f"files: {named[0]} is audio but the collection has no audio space and its "
                          "model no audio tower; pass --audio-model (a CLAP folder) or create the collection "
                          "with `embkit init PATH --model FOLDER#audio`")
    return None


def _add_audio(col, audio_paths: list[str], tower: str | None, upsert: bool,
               bars: ProgressFactory | None) -> tuple[AudioAdded | None, list[Skipped]]:
    """Sounds into the audio space (made from `tower` when missing); with nowhere to go
    (`tower` None), each is skipped."""
    if not audio_paths:
        return None, []
    if tower is None:
        return None, [Skipped(p, "an audio file, and the collection has no audio space", AUDIO) for p in audio_paths]
    if tower:
        col.add_space(AUDIO_SPACE, tower)
    start = time.perf_counter()
    with (bars or (lambda n, label: nullcontext()))(len(audio_paths), "embedding audio") as advance:
        ids, skipped = col.add_audio(list(audio_paths), upsert=upsert, progress=advance)
    return AudioAdded(ids, skipped, time.perf_counter() - start), skipped


def _paired_image_tower(col) -> str | None:
    """The image half of the text model (a CLIP text tower), if it has one."""
    return _paired_tower(col, "#image")


def _paired_tower(col, suffix: str) -> str | None:
    """The text model's other tower if its name ends with `suffix` (`#image`, `#audio`)."""
    paired = col.encoder.paired if col.space.model != "none" else None
    return paired if paired and paired.endswith(suffix) else None
