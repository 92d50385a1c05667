"""A folder's files sent over HTTP (each its path inside the folder and its bytes) into
a batch ready to embed, read as `embkit add DIR FOLDER` reads that folder: the same
readers, checks and chunker, so the same ids (`FOLDER/PATH`), chunks and metadata.
Images, sounds and files that cannot be read are skipped, as a folder's are."""

import contextlib
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Iterator, NamedTuple, Sequence

from .. import validate
from ..errors import EmbkitError
from .audio_files import is_audio_path
from .chunk import check_chunking
from .documents import split_documents
from .folder import read_found
from .held_files import hold
from .image_files import is_image_path
from .records import Prepared
from .selection import check_patterns, chosen
from .skips import AUDIO, IMAGE, Skipped
from .text_files import read_all

# the system temp folder's embkit-upload-PID-XXXX: the files of one upload, read there as files; a server
# killed meanwhile leaves it, and the next server's start removes it (server/upload_recovery.py) if it holds
# SCRATCH_MARKER (embkit made it; a user's folder of the same name has none) whose lock is free (held_files:
# its reader is gone; pids say nothing across pid namespaces and are reused)
SCRATCH_PREFIX = "embkit-upload-"
SCRATCH_MARKER = ".embkit-scratch"


class Upload(NamedTuple):
    """One file of the folder: its path inside the folder (with `/`) and its bytes."""

    path: str
    data: bytes


def check_upload_path(path: str, field: str) -> str:
    """A path inside the folder: relative, no `..`, no empty parts, within the id limit."""
    validate.check_unicode(path, field)
    if "\x00" in path or "\\" in path or any(part in ("", ".", "..") for part in path.split("/")):
        raise EmbkitError(f"{field}: expected a relative path inside the folder (a/b.md), got {path!r}")
    if len(path) > validate.MAX_ID_CHARS:
        raise EmbkitError(f"{field}: {len(path)} characters exceeds the limit of {validate.MAX_ID_CHARS}")
    return path


def prepare_uploads(model: str, folder: str, uploads: Sequence[Upload], *, include: Sequence[str] | None = None,
                    exclude: Sequence[str] | None = None, text_column: str = "text", id_column: str = "id",
                    chunk: bool = True, chunk_tokens: int = 256, overlap: int = 32,
                    max_document_bytes: int = validate.MAX_DOCUMENT_BYTES) -> tuple[Prepared, list[Skipped]]:
    """(records to embed, files skipped) for the files of `folder` (the name the folder
    goes by in ids and metadata `source`). Nothing readable at all is an error."""
    include, exclude = check_patterns(include, "include"), check_patterns(exclude, "exclude")
    if chunk:
        check_chunking(chunk_tokens, overlap)
    batches, skipped = [], []
    with scratch_folder() as tmp:
        for n, upload in enumerate(sorted(uploads, key=lambda u: PurePosixPath(u.path).parts)):  # as walk sorts
            if hidden(upload.path) or not chosen(upload.path, include, exclude):
                continue  # as folder.walk leaves hidden files and folders out
            name = str(Path(folder) / upload.path)
            if is_image_path(name):
                skipped.append(Skipped(name, "an image (send images to the images route)", IMAGE))
                continue
            if is_audio_path(name):  # libsndfile's formats are not text formats
                skipped.append(Skipped(name, "an audio file (this route reads text files; add sounds with embkit add)",
                                       AUDIO))
                continue
            file = Path(tmp) / f"{n}{PurePosixPath(upload.path).suffix.lower()}"  # the suffix picks the reader
            file.write_bytes(upload.data)
            found = read_found(file, text_column, id_column, name=name)
            (skipped if isinstance(found, Skipped) else batches).append(found)
    docs = read_all(batches, [folder], skipped, max_document_bytes)
    return split_documents(model, docs, chunk, chunk_tokens, overlap, strict=True), skipped


@contextlib.contextmanager
def scratch_folder() -> Iterator[Path]:
    """A new folder in the system temp folder, SCRATCH_MARKER in it held until it is removed
    (see SCRATCH_PREFIX). A start that found it empty, before its marker, removed it: made again."""
    while True:
        path = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))
        try:
            marker = hold(path / SCRATCH_MARKER)
            break
        except FileNotFoundError:
            continue
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        marker.close()


def hidden(relative: str) -> bool:
    """A path inside the folder with a hidden file or folder in it (a name starting
    with '.'), which `embkit add` never reads (folder.walk)."""
    return any(part.startswith(".") for part in PurePosixPath(relative).parts)
