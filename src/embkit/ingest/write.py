"""The one library write path: documents → checked records → chunks → vectors → one
transaction, which also removes the chunks an older version of a document left (upsert).
Every door ends here: Python `Collection.add`/`upsert`, `add_files` and `embkit add`
(text_files.py), the HTTP add route (prepare and embed outside its write lock, then
`write_prepared`), images (image_documents.py) and `embkit import` (bulk.py).

The parts come in explicitly (store, space, encoder); this layer never sees a Collection."""

import uuid
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from .. import validate
from ..encoders import CATALOG, Encoder
from ..encoders.base import Progress
from ..encoders.prompts import encode_as
from ..errors import EmbkitError
from ..store import Record, Space, Store
from ..store.types import refuse_taken_ids
from .chunk import with_parent
from .documents import split_documents
from .embedding_cache import EmbeddingCache, Held, cached_encode
from .model_fingerprint import model_fingerprint
from .records import Prepared, SourceDocument, Written, owned_documents
from .space_prompts import applying, check_document_prompt
from .vectors import stored_form


class WriteTarget(NamedTuple):
    """Where a write lands: the store, the vector space written, and its text encoder (a
    function, so the model loads only when texts must be embedded)."""

    store: Store
    space: Space
    encoder: Callable[[], Encoder]
    cache: EmbeddingCache | None = None  # chunk vectors kept by (model, text); None: embed every text


def embed_texts(
    target: WriteTarget,
    texts: Sequence[str],
    batch_size: int = 32,
    progress: Progress | None = None,
    ids: Sequence[str] | None = None,
) -> np.ndarray:
    """The encoder's vectors for `texts` embedded as documents (the model's document
    prompt before each), those the embedding cache holds for this space's model taken
    from it (the model is not even loaded when it holds them all). With the record `ids`
    the texts are written as, the cache keeps references to the store's vectors instead
    of copies."""
    prompt = check_document_prompt(target.store, target.space)  # the space's documents share one prompt
    fingerprint = model_fingerprint(target.space) if target.cache is not None else None
    return cached_encode(
        target.cache,
        fingerprint,
        texts,
        lambda missing, bar: encode_as(
            applying(target.encoder(), prompt, target.space.model), missing, "document", batch_size, bar
        ),
        progress,
        None if ids is None else held_by(target, ids),
    )


def held_by(target: WriteTarget, ids: Sequence[str]) -> Held:
    """What the embedding cache needs to serve the store's own vectors (see Held)."""
    store, space = target.store, target.space

    def fetch(wanted: list[str]) -> dict[str, np.ndarray]:
        records = store.get(wanted)
        rows, matrix = store.vectors(space.name, [r.rowid for r in records])
        by_row = dict(zip(rows.tolist(), matrix))
        return {r.id: by_row[r.rowid] for r in records if r.rowid in by_row}

    return Held(list(ids), fetch, lambda vectors: stored_form(vectors, space.metric, "vectors"))


def check_model(space: Space, model: str | None) -> None:
    """Vectors from another model are incompatible: refuse, naming both."""
    if model is not None and model != space.model:
        other = CATALOG[model].dim if model in CATALOG else "?"
        raise EmbkitError(
            f"model: space {space.name!r} holds vectors from {space.model!r} ({space.dim}-d); got {model!r} ({other}-d)"
        )


def new_ids(n: int) -> list[str]:
    """Ids for documents given without one (uuid4 hex)."""
    return [uuid.uuid4().hex for _ in range(n)]


def prepare_texts(
    model: str,
    texts: Any,
    ids: Any = None,
    metadatas: Any = None,
    chunk: bool = True,
    max_document_bytes: int | None = None,
) -> Prepared:
    """Texts to embed, checked (a stored text is limited by its size in bytes) and chunked
    as `embkit add` chunks them; nothing embedded yet."""
    texts = validate.check_texts(texts, max_chars=None)
    validate.check_documents_bytes(texts, "texts", max_document_bytes)
    ids = validate.check_ids(ids, len(texts)) if ids is not None else new_ids(len(texts))
    metadatas = validate.check_metadatas(metadatas, len(texts))
    docs = [SourceDocument(d, t, m, where=f"texts[{n}]") for n, (d, t, m) in enumerate(zip(ids, texts, metadatas))]
    return split_documents(model, docs, chunk=chunk)


def prepare_given(
    space: Space, texts: Any, ids: Any, metadatas: Any, vectors: Any, max_document_bytes: int | None = None
) -> tuple[Prepared, np.ndarray]:
    """Records whose vectors were computed elsewhere: each (text, vector) is one record
    as given, its metadata naming its document in `parent` (chunk.with_parent)."""
    if texts is not None:
        texts = validate.check_texts(texts, max_chars=None)
        validate.check_documents_bytes(texts, "texts", max_document_bytes)
    vectors = validate.check_vectors(vectors, len(texts) if texts is not None else None, space.dim, space.model)
    ids = validate.check_ids(ids, len(vectors)) if ids is not None else new_ids(len(vectors))
    metadatas = [with_parent(i, m) for i, m in zip(ids, validate.check_metadatas(metadatas, len(vectors)))]
    return Prepared(ids, ids, texts, metadatas), vectors


def write_documents(
    target: WriteTarget,
    texts: Any = None,
    *,
    ids: Any = None,
    metadatas: Any = None,
    vectors: Any = None,
    model: str | None = None,
    upsert: bool = False,
    chunk: bool = True,
    batch_size: int = 32,
    progress: Progress | None = None,
    max_document_bytes: int | None = None,
) -> Written:
    """Check, chunk, embed and store documents in one transaction (see Collection.add)."""
    check_model(target.space, model)
    if texts is None and vectors is None:
        raise EmbkitError("texts: give texts to embed or precomputed vectors")
    if vectors is None:
        prepared = prepare_texts(target.space.model, texts, ids, metadatas, chunk, max_document_bytes)
    else:
        prepared, vectors = prepare_given(target.space, texts, ids, metadatas, vectors, max_document_bytes)
    return write_prepared(target, prepared, vectors, upsert=upsert, batch_size=batch_size, progress=progress)


def write_prepared(
    target: WriteTarget,
    prepared: Prepared,
    vectors: Any = None,
    *,
    upsert: bool = False,
    batch_size: int = 32,
    progress: Progress | None = None,
) -> Written:
    """Embed (unless `vectors` are given, one row per record) and store a prepared batch
    in one transaction: all of it or nothing. Without `upsert`, a document or record id
    that exists already rejects the batch before anything is embedded; with it, the
    records a stored version of these documents had and this batch does not write go."""
    if not prepared.ids:
        return Written(prepared.documents, [], prepared.warnings)
    store, space = target.store, target.space
    store.check_writable()  # a read-only collection refuses before any embedding
    documents = owned_documents(prepared.ids, prepared.metadatas)
    if not upsert:  # record ids are checked again inside the store's transaction
        refuse_documents(store, [*prepared.documents, *documents], prepared.ids)
    if vectors is None:
        vectors = embed_texts(target, prepared.texts, batch_size, progress, prepared.ids)
    else:
        vectors = validate.check_vectors(vectors, len(prepared.ids), space.dim, space.model)
    vectors = stored_form(vectors, space.metric, "vectors")
    texts = prepared.texts or [None] * len(prepared.ids)
    records = [Record(i, t, m) for i, t, m in zip(prepared.ids, texts, prepared.metadatas)]
    store.write(records, space.name, vectors, upsert=upsert, documents=documents if upsert else ())
    return Written(prepared.documents, prepared.ids, prepared.warnings)


def refuse_documents(store: Store, documents: Sequence[str], ids: Sequence[str]) -> None:
    """An id that exists already, as a record or as the document of stored chunks."""
    refuse_taken(store.existing_ids, documents, ids)


def refuse_taken(
    existing_ids: Callable[[list[str]], set[str]], documents: Sequence[str], ids: Sequence[str], upsert: str = "upsert"
) -> None:
    """`refuse_documents` with the lookup given (those of the ids asked that are stored
    as records) and the way to replace them named as the caller's door spells it: the
    one rule for an add and for `embkit import` (bulk.py), which checks all its rows
    through the Collection API before its first batch is written."""
    documents = list(dict.fromkeys(documents))
    asked = list(dict.fromkeys([*documents, *ids]))
    refuse_taken_ids(asked, existing_ids(asked), upsert)  # the stores check again inside the write's transaction
    # a stored document's chunks start at `ID#0`: looked up by id (indexed), not by metadata
    firsts = sorted(existing_ids([f"{d}#0" for d in documents]))
    if firsts:
        raise EmbkitError(
            f"ids: document {firsts[0][:-2]!r} exists already (stored as chunks "
            f"{firsts[0]!r}, ...); use {upsert} to replace it"
        )
