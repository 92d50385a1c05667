"""The plain dense search: a given vector, k, and at most the index knobs (ef, nprobe,
rescore) and `model`; no filter, fusion, rerank, MMR, Matryoshka view or chunk grouping.
It is the request most calls make, and here it skips the general pipeline's stages
(plan, fusion bookkeeping, stage filters), as server/fast_search.py answers the same
request without the web framework's routing. Its hits equal `pipeline.retrieve`'s for
that request, field for field (tests/search/test_plain.py)."""

from ..ingest.vectors import stored_form
from .dense import dense_search
from .hit import Hit
from .pipeline import NO_SOURCE, hit_of
from .request import SearchRequest
from .sources import SearchParts


def plain_search(req: SearchRequest, parts: SearchParts) -> list[Hit]:
    """The hits of a checked plain request (`SearchRequest.plain`) on a store-side index."""
    space, store = parts.space, parts.store
    query = stored_form(req.vector, space.metric, "vector")
    index = parts.index.current(wait=False)
    rowids, scores = dense_search(index, query, req.k, lambda rows: store.vectors(space.name, rows),
                                  rescore=req.rescore, **req.index_params())
    rowids, scores = rowids.tolist(), scores.tolist()  # Python ints and floats, once for all hits
    records = store.search_records(rowids)  # metadata decoded only for the hits returned
    hits = []
    for rank, (row, score) in enumerate(zip(rowids, scores), 1):
        record = records.get(row)
        if record is not None:  # a row deleted since the index was read
            hits.append(hit_of(record, score, (score, rank), NO_SOURCE, None))
    return hits

