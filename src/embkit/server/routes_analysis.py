"""Cluster a collection (labels stored as metadata), its outliers and near-duplicates,
and its 2-D map for the web page; each over documents (the default) or chunks (`unit`)."""

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from ..analysis.common import ChangedMeanwhile
from ..analysis.units import display_text
from ..ingest.records import document_of
from .auth import requires
from .encoding import encode
from .hosting import Conflict
from .params_unread import refuse_unread
from .schemas import ClusterRequest, DedupeRequest, DuplicatesRequest, OutliersRequest
from .state import hosted, limits
from .strict_values import is_int

router = APIRouter(tags=["analysis"], dependencies=[Depends(refuse_unread)])
SNIPPET = 200


@router.post("/collections/{name}/cluster")
def cluster(name: str, body: ClusterRequest, request: Request, _=Depends(requires("write"))) -> Response:
    """k-means or HDBSCAN; each document's cluster goes into metadata `field` (on all its chunks)."""
    h = hosted(request, name)
    try:  # the lock held to read the rows and to store the labels, not while clustering
        result = h.collection.cluster(k=body.k, method=body.method, where=body.where, field=body.field,
                                      seed=body.seed, min_cluster_size=body.min_cluster_size, unit=body.unit,
                                      reading=h.lock.reading, writing=h.lock.writing)
    except ChangedMeanwhile as e:
        raise Conflict(str(e)) from None
    return _json({"field": result.field, "method": result.method, "k": result.k, "documents": result.documents,
                  "unit": result.unit, "noise": result.noise, "notes": result.notes,
                  "clusters": [{"id": c.id, "size": c.size, "terms": c.terms, "representative": c.representative,
                                "snippet": c.snippet} for c in result.clusters]})


@router.post("/collections/{name}/outliers")
def outliers(name: str, body: OutliersRequest, request: Request, _=Depends(requires("read"))) -> Response:
    """The documents (or chunks) least like the rest, most outlying first."""
    _neighbours(request, body.k)
    h = hosted(request, name)
    found = h.collection.outliers(body.top, body.method, k=body.k, where=body.where, unit=body.unit,
                                  reading=h.lock.reading)  # held per read, not for the whole run
    return _json({"unit": body.unit, "results": [o._asdict() for o in found]})


@router.post("/collections/{name}/duplicates")
def duplicates(name: str, body: DuplicatesRequest, request: Request, _=Depends(requires("read"))) -> Response:
    """Groups of near-duplicate documents (or chunks), largest first."""
    _neighbours(request, body.k)
    h = hosted(request, name)
    groups = h.collection.duplicates(body.threshold, where=body.where, k=body.k, unit=body.unit,
                                     reading=h.lock.reading)  # held per read, not for the whole run
    return _json({"unit": body.unit, "groups": [g._asdict() for g in groups]})


@router.post("/collections/{name}/dedupe")
def dedupe(name: str, body: DedupeRequest, request: Request, _=Depends(requires("write"))) -> Response:
    """Near-duplicate groups and the one of each to keep; with `delete`, the others
    are deleted (whole documents with unit document) in one transaction."""
    _neighbours(request, body.k)
    h = hosted(request, name)
    try:  # read under short read holds, deleted under the write lock, not held while searching
        report = h.collection.dedupe(body.threshold, body.keep, body.delete, where=body.where, k=body.k,
                                     unit=body.unit, reading=h.lock.reading, writing=h.lock.writing)
    except ChangedMeanwhile as e:
        raise Conflict(str(e)) from None
    return _json(report.to_dict())


@router.get("/collections/{name}/map")
def map_points(name: str, request: Request, method: Literal["umap", "pca", "tsne"] = "umap",
               color_by: str | None = Query(None, description="Metadata field to colour by (e.g. cluster)."),
               unit: str = Query("document", description="One point per document (the mean of its chunks' "
                                                         "vectors) or per chunk."),
               _=Depends(requires("read"))) -> dict:
    """2-D coordinates of every document or chunk (cached per collection generation),
    with the `color_by` value and the start of the text of each (a document's: its
    title, else its first chunk's text)."""
    h = hosted(request, name)
    # the read lock only while rows are read: a t-SNE of 10k points under it held every
    # later request behind a queued write for minutes (the lock prefers writers)
    projection = h.collection.project(method, unit=unit, reading=h.lock.reading)
    with h.lock.reading():  # texts and colours as they are now; a point whose document went is left out
        docs = _first_chunks(h.collection.get(projection.ids), unit)
    points = []
    for doc_id, (x, y) in zip(projection.ids, projection.xy.tolist()):
        doc = docs.get(doc_id)
        if doc is None:
            continue
        text = display_text(doc.text, doc.metadata) if unit == "document" else doc.text or ""
        points.append({"id": doc_id, "x": round(x, 5), "y": round(y, 5),
                       "color": _scalar(doc.metadata.get(color_by)) if color_by else None,
                       "text": text[:SNIPPET]})
    return {"method": projection.method, "color_by": color_by, "unit": unit, "notes": projection.notes,
            "points": points}


def _neighbours(request: Request, k) -> None:
    """The server's max_k bounds the neighbours asked of each document as it bounds a
    search's k: outliers hold an (n, k) table, so k near n on a large collection would
    take the memory of n squared. Another type: the library says so."""
    if is_int(k):
        limits(request).k(k)


def _first_chunks(records, unit: str) -> dict:
    """id -> the record a point shows: a chunk itself, or a document's first chunk
    (`get` gives a document's chunks in chunk order)."""
    out: dict = {}
    for record in records:
        out.setdefault(document_of(record.id, record.metadata) if unit == "document" else record.id, record)
    return out


def _scalar(value):
    """A colour comes from a plain value; an object or list (which may be nested past what
    can be encoded, in a document from an older version) colours nothing."""
    return value if isinstance(value, (str, int, float, bool)) else None


def _json(content: dict) -> Response:
    """Stored texts and metadata in an answer are served as search serves them: a record
    that cannot be encoded as it is gets a marker, never a 500 for the whole answer."""
    return Response(encode(content), media_type="application/json")
