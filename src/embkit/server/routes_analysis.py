"""Cluster a collection (labels stored as metadata) and its 2-D map for the web page."""

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request

from .auth import requires
from .schemas import ClusterRequest
from .state import hosted

router = APIRouter(tags=["analysis"])
SNIPPET = 200


@router.post("/collections/{name}/cluster")
def cluster(name: str, body: ClusterRequest, request: Request, _=Depends(requires("write"))) -> dict:
    """k-means or HDBSCAN; each document's cluster goes into metadata `field`."""
    h = hosted(request, name)
    with h.lock.writing():
        result = h.collection.cluster(k=body.k, method=body.method, where=body.where, field=body.field,
                                      seed=body.seed, min_cluster_size=body.min_cluster_size)
    return {"field": result.field, "method": result.method, "k": result.k, "documents": result.documents,
            "noise": result.noise, "notes": result.notes,
            "clusters": [{"id": c.id, "size": c.size, "terms": c.terms, "representative": c.representative,
                          "snippet": c.snippet} for c in result.clusters]}


@router.get("/collections/{name}/map")
def map_points(name: str, request: Request, method: Literal["umap", "pca", "tsne"] = "umap",
               color_by: str | None = Query(None, description="Metadata field to colour by (e.g. cluster)."),
               _=Depends(requires("read"))) -> dict:
    """2-D coordinates of every document (cached per collection generation), with the
    `color_by` value and the start of the text of each."""
    h = hosted(request, name)
    with h.lock.reading():
        projection = h.collection.project(method)
        docs = {d.id: d for d in h.collection.get(projection.ids)}
    points = []
    for doc_id, (x, y) in zip(projection.ids, projection.xy.tolist()):
        doc = docs.get(doc_id)
        if doc is None:
            continue
        points.append({"id": doc_id, "x": round(x, 5), "y": round(y, 5),
                       "color": _scalar(doc.metadata.get(color_by)) if color_by else None,
                       "text": (doc.text or "")[:SNIPPET]})
    return {"method": projection.method, "color_by": color_by, "notes": projection.notes, "points": points}


def _scalar(value):
    """A colour comes from a plain value; an object or list (which may be nested past what
    can be encoded, in a document from an older version) colours nothing."""
    return value if isinstance(value, (str, int, float, bool)) else None
