"""The plain dense search: a given vector, k, and at most the index knobs (ef, nprobe,
rescore) and `model`; no filter, fusion, rerank, MMR, Matryoshka view or chunk grouping.
It is the request most calls make, and here it skips the general pipeline's stages
(plan, fusion bookkeeping, stage filters), as server/fast_search.py answers the same
request without the web framework's routing. Its hits equal `pipeline.retrieve`'s for
that request, field for field (tests/search/test_plain.py)."""

from ..ingest.vectors import stored_form
from ..store.lazy_record import metadata_of
from . import hit_rows
from .dense import dense_search
from .hit import Hit
from .pipeline import chunk_of
from .request import STORED_IN, SearchRequest
from .sources import SearchParts
from .vanished_rows import lost_rows, searched_again

_new_hit = tuple.__new__  # Hit's fields given whole (pipeline.hit_of's way)
CHECKED_SEARCHES = 3  # searches checked by their rows' generation; then one checked before only (writes keep coming)


def plain_search(req: SearchRequest, parts: SearchParts) -> list[Hit]:
    """The hits of a checked plain request (`SearchRequest.plain`) on a store-side index."""
    return plain_found(req, parts)[0]


def plain_found(req: SearchRequest, parts: SearchParts) -> tuple[list[Hit], dict[str, str] | None]:
    """`plain_search`'s hits and the reembed map ({old space: successor}) as the statement
    reading their rows saw it (None: the store did not read it there): the collection
    checks with it that the space searched was not replaced, without a read of its own."""
    space = parts.space  # a vector its check found in stored form (unit length, cosine) is not normalized again
    query = req.vector if req.__dict__.get(STORED_IN) is space else stored_form(req.vector, space.metric, "vector")
    rowids, scores, rows = _searched(req, parts, query)
    if len(rows) < len(rowids) == req.k:  # another handle deleted or replaced a row since the index answered
        rowids, scores, rows = searched_again(lambda: _searched_whole(req, parts, query),
                                              first=((rowids, scores, rows), True))
    return hits_of_rows(rows, rowids, scores), getattr(rows, "superseded", None)


def _searched_whole(req: SearchRequest, parts: SearchParts, query):
    found = _searched(req, parts, query)
    return found, lost_rows(len(found[2]), len(found[0]), len(found[0]) == req.k)


def _searched(req: SearchRequest, parts: SearchParts, query) -> tuple[list[int], list[float], dict]:
    """(row ids, scores, their rows) of the index's best k, the index caught up with the
    store: checked after the search when the store's row statement reads its generation
    (SQLite), a write since then (this process's or another's) making it catch up and
    search again, checked again; else checked first (`current`, a statement of its own)."""
    for _ in range(CHECKED_SEARCHES):
        index, generation = _as_it_is(req, parts)
        if index is None:
            break
        found = _searched_in(index, req, parts, query, generation)
        if getattr(found[2], "generation", None) == generation:  # the store had nothing the index lacks
            return found
        parts.index.current(wait=False)  # caught up: searched again, and checked again
    return _searched_in(parts.index.current(wait=False), req, parts, query)  # checked before only


def _as_it_is(req: SearchRequest, parts: SearchParts):
    """(the index, the store generation it reflects) for a search checked afterwards, or
    (None, None): the store's rows do not say their generation, or the index is not
    simply there (not loaded, a build running or failed: `current` decides)."""
    if req.k > getattr(parts.store, "SEARCH_ROWS_SEEN", 0):
        return None, None
    manager = parts.index
    generation = manager.generation  # before the index: a catch-up changes the index, then this
    index = manager.index
    if index is None or manager.building or index.stands_in_for is not None:
        return None, None
    return index, generation


def _searched_in(index, req: SearchRequest, parts: SearchParts, query,
                 generation: int | None = None) -> tuple[list[int], list[float], dict]:
    """The index's best k and their rows: with the `generation` the index reflects, from
    the rows kept since the store last changed when they hold them all (hit_rows)."""
    space, store = parts.space, parts.store
    if index.spec.quantized:  # candidates rescored with the stored vectors
        rowids, scores = dense_search(index, query, req.k, lambda rows: store.vectors(space.name, rows),
                                      rescore=req.rescore, **req.index_params())
        rowids, scores = rowids.tolist(), scores.tolist()  # Python ints and floats, once for all hits
    else:  # dense_search's own call for an unquantized index, without its array work
        rowids, scores = index.search_one(query, req.k, req.index_params())
    if generation is None:
        return rowids, scores, store.search_rows(rowids)
    return rowids, scores, hit_rows.search_rows(store, rowids, generation)


def hits_of_rows(rows: dict, rowids: list[int], scores: list[float]) -> list[Hit]:
    """The Hits of the rows found ({row id: (id, text, metadata JSON)}), as `hit_of` makes
    them for a dense-only search: (score, rank) as the dense fields, the chunk fields from
    the metadata; a row deleted since the index was read is left out (its rank kept).
    Metadata None (hit_rows.KeptRows): the row's JSON is its own id as parent."""
    hits, rank = [], 0
    for row, score in zip(rowids, scores):
        rank += 1
        found = rows.get(row)
        if found is None:
            continue
        doc_id, raw = found[0], found[2]
        # a document without metadata of its own (None: hit_rows recognized it when it kept
        # the row): the hit written out rather than its JSON decoded (~1 us a hit less)
        if raw is None or hit_rows.own_parent_only(doc_id, raw):
            hits.append(_new_hit(Hit, (doc_id, score, found[1], {"parent": doc_id}, score, rank,
                                       None, None, None, doc_id, None, None, None, None)))
            continue
        meta = metadata_of(raw)
        hits.append(_new_hit(Hit, (doc_id, score, found[1], meta, score, rank, None, None, None, *chunk_of(meta))))
    return hits
