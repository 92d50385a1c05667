"""Documents: add, upsert, get, delete. A batch is checked against the limits and
embedded before the write lock is taken (readers keep going meanwhile), then written in
one transaction: all of it lands or none of it."""

from fastapi import APIRouter, Depends, Request, Response

from ..errors import EmbkitError
from .auth import requires
from .encoding import encode, encode_record
from .hosting import NotFound
from .params_unread import refuse_unread
from .routes_search import with_warnings
from .schemas import AddDocuments, DeleteDocuments, GetDocuments
from .state import hosted, limits

router = APIRouter(tags=["documents"], dependencies=[Depends(refuse_unread)])


@router.post("/collections/{name}/add", status_code=201)
def add(name: str, body: AddDocuments, request: Request, _=Depends(requires("write"))) -> dict:
    """Add documents (a long text as chunks, see `chunk`); an id that exists already
    rejects the whole batch (409). Returns the document ids."""
    return _write(request, name, body, upsert=False)


@router.post("/collections/{name}/upsert")
def upsert(name: str, body: AddDocuments, request: Request, _=Depends(requires("write"))) -> dict:
    """Add documents, replacing those whose id exists (and the chunks they had)."""
    return _write(request, name, body, upsert=True)


@router.post("/collections/{name}/get", response_model=dict)
def get(name: str, body: GetDocuments, request: Request, _=Depends(requires("read"))) -> Response:
    """Documents by id (in the order given; missing ids left out) or by filter."""
    if body.ids is not None:
        limits(request).batch(len(body.ids), "ids")
    if body.limit is not None:
        limits(request).batch(body.limit, "limit")
    limit = body.limit if body.ids is not None else (body.limit or limits(request).max_batch)
    h = hosted(request, name)
    with h.lock.reading():
        found = h.collection.lookup(body.ids, where=body.where, limit=limit, include_vectors=body.include_vectors)
    return _json(with_warnings({"documents": [_document(d) for d in found.documents]}, found.warnings))


@router.get("/collections/{name}/documents/{doc_id:path}", response_model=dict)
def get_one(name: str, doc_id: str, request: Request, include_vectors: bool = False,
            _=Depends(requires("read"))) -> Response:
    """One record by id; a document stored as chunks: {"id", "chunks": [records in order]}."""
    h = hosted(request, name)
    with h.lock.reading():
        docs = h.collection.get([doc_id], include_vectors=include_vectors)
    if not docs:
        raise NotFound(f"id: no document with id {doc_id!r}")
    if len(docs) == 1 and docs[0].id == doc_id:
        return Response(encode_record(_document(docs[0])), media_type="application/json")
    return _json({"id": doc_id, "chunks": [_document(d) for d in docs]})


@router.delete("/collections/{name}/documents/{doc_id:path}")
def delete_one(name: str, doc_id: str, request: Request, _=Depends(requires("write"))) -> dict:
    h = hosted(request, name)
    with h.lock.writing():
        deleted = h.collection.remove([doc_id])
    if not deleted.chunks:
        raise NotFound(f"id: no document with id {doc_id!r}")
    return {"deleted": deleted.chunks, "documents": deleted.documents}


@router.post("/collections/{name}/delete")
def delete(name: str, body: DeleteDocuments, request: Request, _=Depends(requires("write"))) -> dict:
    """Delete by ids (a document id: all its chunks) and/or filter, in one transaction;
    `deleted` counts records (chunks), `documents` the documents they belonged to."""
    if body.ids is not None:
        limits(request).batch(len(body.ids), "ids")
    h = hosted(request, name)
    with h.lock.writing():
        deleted = h.collection.remove(body.ids, where=body.where)
        return with_warnings({"deleted": deleted.chunks, "documents": deleted.documents}, list(deleted.warnings))


def _write(request: Request, name: str, body: AddDocuments, upsert: bool) -> dict:
    """{"ids": document ids} (with "warnings" when a text was stored whole, chunk false)."""
    docs, lim = body.documents, limits(request)
    lim.batch(len(docs), "documents")
    lim.texts([d.text for d in docs], "documents.text")
    if not docs:
        return {"ids": []}
    texts, vectors = _every_or_none(docs, "text"), _every_or_none(docs, "vector")
    if texts is None and vectors is None:
        raise EmbkitError("documents[0].text: a document without a vector needs a text")
    ids = [d.id for d in docs] if any(d.id is not None for d in docs) else None
    metadatas = [d.metadata or {} for d in docs]
    h = hosted(request, name)
    if vectors is not None:  # computed by the client: each one record, as given
        write = h.collection.upsert if upsert else h.collection.add
        with h.lock.writing():
            return {"ids": write(texts, ids=ids, metadatas=metadatas, vectors=vectors, model=body.model,
                                 max_document_bytes=lim.max_document_bytes)}
    # checked, chunked (as `embkit add` does) and embedded outside the write lock; the
    # warnings come back as values, this request's own (never the process-wide module)
    prepared = h.collection.prepare(texts, ids=ids, metadatas=metadatas, chunk=body.chunk, model=body.model,
                                    max_document_bytes=lim.max_document_bytes)
    vectors = h.collection.embed_prepared(prepared)
    with h.lock.writing():
        written = h.collection.write_prepared(prepared, vectors, upsert=upsert)
    return with_warnings({"ids": written.documents}, written.warnings)


def _every_or_none(docs, field: str) -> list | None:
    values = [getattr(d, field) for d in docs]
    given = [v is not None for v in values]
    if any(given) and not all(given):
        raise EmbkitError(f"documents[{given.index(False)}].{field}: give a {field} for every document of the "
                          "batch or for none")
    return values if all(given) else None


def _json(content: dict) -> Response:
    """Encoded here (see encoding.py): a stored record that cannot be encoded as it is
    is served with a marker, not a 500 for every reader."""
    return Response(encode(content), media_type="application/json")


def _document(doc) -> dict:
    out = {"id": doc.id, "text": doc.text, "metadata": doc.metadata}
    if doc.vector is not None:
        out["vector"] = doc.vector.tolist()
    return out
