"""Text files into a collection, as `embkit add` and `Collection.add_files` both do it:
read every file, check every document, chunk those longer than the model reads, and hand
the batch to the one write path (Collection.write_prepared → ingest/write.py), which
embeds and stores it in one transaction. The collection comes in as an argument (this
layer sits below it)."""

import time
import uuid
from contextlib import nullcontext
from typing import Callable, ContextManager, NamedTuple, Sequence

from .. import validate
from ..errors import EmbkitError
from .audio_files import AUDIO_SUFFIXES
from .documents import split_documents
from .folder import read_paths
from .image_files import IMAGE_SUFFIXES
from .records import SourceDocument
from .skips import Skipped, summary

ProgressFactory = Callable[[int, str], ContextManager]  # bars: (total, label) -> a context yielding `advance`


class TextsAdded(NamedTuple):
    """What a text write did: record ids written (chunks count one each), documents
    and files read, files skipped, seconds spent embedding and writing."""

    ids: list[str]
    documents: int
    files: int
    skipped: list[Skipped]
    seconds: float
    warnings: list[str] = []  # for the user: texts stored whole that the model truncates (--no-chunk)


def add_text_files(col, files: Sequence[str], *, text_column: str = "text", id_column: str = "id",
                   include: Sequence[str] = (), exclude: Sequence[str] = (), upsert: bool = False,
                   batch_size: int = 32, chunk: bool = True, chunk_tokens: int = 256, overlap: int = 32,
                   max_document_bytes: int = validate.MAX_DOCUMENT_BYTES,
                   bars: ProgressFactory | None = None) -> TextsAdded:
    """Read, chunk, embed and store text files (folders walked; their images and sounds left
    to their own paths). A folder's file that cannot be read is skipped; nothing readable at all fails."""
    batches, skipped = read_paths(files, text_column, id_column, include, exclude,
                                  skip_suffixes=IMAGE_SUFFIXES + AUDIO_SUFFIXES)
    docs = read_all(batches, files, skipped, max_document_bytes)
    # --chunk-tokens above the model's window is the user's error (strict), not capped
    prepared = split_documents(col.writing_model, docs, chunk, chunk_tokens, overlap, strict=True)
    start = time.perf_counter()
    with (bars or (lambda n, label: nullcontext()))(len(prepared.ids), "embedding") as advance:
        written = col.write_prepared(prepared, upsert=upsert, batch_size=batch_size, progress=advance)
    return TextsAdded(written.ids, len(docs), len(batches), skipped, time.perf_counter() - start,
                      written.warnings)


def read_all(batches: list, files: Sequence[str], skipped: Sequence[Skipped],
             max_document_bytes: int) -> list[SourceDocument]:
    """Every document of every batch; ids unique across files. Each document's size,
    Unicode and metadata are checked here, naming file:line, before any is chunked (a
    10 MB line would otherwise become thousands of chunks to embed)."""
    docs, origin = [], {}
    for batch in batches:
        for i, doc_id in enumerate(batch.ids):
            where = batch.where(i)
            validate.check_document_bytes(batch.texts[i], where, max_document_bytes)
            validate.check_unicode(batch.texts[i], where)
            # all of the write path's metadata checks: 1e400 read as infinity was a traceback from the
            # store, and metadata past max_metadata_bytes was stored
            validate.check_metadata(batch.metadatas[i], f"{where}: metadata")
            if doc_id is not None:
                validate.check_unicode(doc_id, f"{where}: id")
            doc_id = doc_id or uuid.uuid4().hex
            if doc_id in origin:
                raise EmbkitError(f"{where}: duplicate id {doc_id!r} (also at {origin[doc_id]})")
            origin[doc_id] = where
            docs.append(SourceDocument(doc_id, batch.texts[i], batch.metadatas[i], batch.pages[i],
                                       batch.sections[i], batch.source, where))
    if not docs:
        note = f" ({summary(skipped, verbose=True)})" if skipped else ""
        raise EmbkitError(f"files: no documents found in {', '.join(files)}{note}")
    return docs

