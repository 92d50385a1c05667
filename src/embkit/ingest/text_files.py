"""Text files into a collection, as `embkit add` and `Collection.add_files` both do it:
read every file, check every document, chunk those longer than the model reads, write
them in one transaction (an upsert then removes the chunks an older version left, in
Collection.upsert). The collection comes in as an argument (this layer sits below it)."""

import time
import uuid
from contextlib import nullcontext
from typing import Callable, ContextManager, NamedTuple, Sequence

from .. import validate
from ..encoders.tokenizer_files import encoder_tokenizer, model_max_tokens, reads_whole_texts
from ..errors import EmbkitError
from .chunk import chunk_records
from .folder import read_paths
from .image_files import IMAGE_SUFFIXES
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


def add_text_files(col, files: Sequence[str], *, text_column: str = "text", id_column: str = "id",
                   include: Sequence[str] = (), exclude: Sequence[str] = (), upsert: bool = False,
                   batch_size: int = 32, chunk: bool = True, chunk_tokens: int = 256, overlap: int = 32,
                   max_document_bytes: int = validate.MAX_DOCUMENT_BYTES,
                   bars: ProgressFactory | None = None) -> TextsAdded:
    """Read, chunk, embed and store text files (folders walked; their images left to the
    image path). A folder's file that cannot be read is skipped; nothing readable at all fails."""
    batches, skipped = read_paths(files, text_column, id_column, include, exclude, skip_suffixes=IMAGE_SUFFIXES)
    docs = read_all(batches, files, skipped, max_document_bytes)
    # a model-less collection refuses texts anyway; a word-vector model reads whole texts
    chunking = chunk and col.space.model != "none" and not reads_whole_texts(col.space.model)
    records = chunk_all(docs, col.space.model, chunk_tokens, overlap) if chunking else \
        [(d[0], d[1], d[2]) for d in docs]
    ids, texts, metas = (list(x) for x in zip(*records))
    start = time.perf_counter()
    with (bars or (lambda n, label: nullcontext()))(len(texts), "embedding") as advance:
        write = col.upsert if upsert else col.add
        write(texts, ids=ids, metadatas=metas, batch_size=batch_size, progress=advance,  # chunked here already
              max_document_bytes=max_document_bytes, chunk=False)
    return TextsAdded(ids, len(docs), len(batches), skipped, time.perf_counter() - start)


def read_all(batches: list, files: Sequence[str], skipped: Sequence[Skipped], max_document_bytes: int) -> list[tuple]:
    """(id, text, metadata, pages, sections, source, where) of every document; ids unique across files.
    Each document's size, Unicode and metadata are checked here, naming file:line, before
    any is chunked (a 10 MB line would otherwise become thousands of chunks to embed)."""
    docs, origin = [], {}
    for batch in batches:
        for i, doc_id in enumerate(batch.ids):
            where = batch.where(i)
            validate.check_document_bytes(batch.texts[i], where, max_document_bytes)
            validate.check_unicode(batch.texts[i], where)
            validate.check_tree(batch.metadatas[i], f"{where}: metadata")
            if doc_id is not None:
                validate.check_unicode(doc_id, f"{where}: id")
            doc_id = doc_id or uuid.uuid4().hex
            if doc_id in origin:
                raise EmbkitError(f"{batch.where(i)}: duplicate id {doc_id!r} (also at {origin[doc_id]})")
            origin[doc_id] = batch.where(i)
            docs.append((doc_id, batch.texts[i], batch.metadatas[i], batch.pages[i], batch.sections[i], batch.source,
                         batch.where(i)))
    if not docs:
        note = f" ({summary(skipped, verbose=True)})" if skipped else ""
        raise EmbkitError(f"files: no documents found in {', '.join(files)}{note}")
    return docs


def chunk_all(docs: list[tuple], model: str, chunk_tokens: int, overlap: int) -> list[tuple]:
    """(id, text, metadata) records: documents that fit as they are, longer ones as chunks."""
    limit = model_max_tokens(model)
    if limit is not None and chunk_tokens > limit:
        raise EmbkitError(f"chunk_tokens: {chunk_tokens} is more than model {model!r} reads ({limit} tokens); "
                          f"use --chunk-tokens {limit} or less")
    tokenizer = encoder_tokenizer(model)
    records, origin = [], {}
    for doc_id, text, metadata, pages, sections, source, where in docs:
        for record in chunk_records(doc_id, text, metadata, tokenizer, pages=pages, sections=sections, source=source,
                                    chunk_tokens=chunk_tokens, overlap=overlap):
            if record.id in origin:  # a chunk id such as `a#0` can meet a document's own id
                raise EmbkitError(f"{where}: duplicate id {record.id!r} (also at {origin[record.id]})")
            origin[record.id] = where
            records.append(record)
    return records
