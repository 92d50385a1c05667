"""Rescoring a batch of queries at once: quantized indexes (sq8, int8, binary, IVF-PQ)
find `k × rescore` candidates a query, which are ranked again by their float32 vectors.
One query at a time, each query read its candidates' vectors from the store by itself;
here the whole batch searches the index in one call and reads the union of its
candidates in one fetch. Each query is then scored as `dense_search` scores it alone
(the same rows in the same order, the same product), so the hits and scores are the
same, bit for bit."""

import numpy as np

from ..index import VectorIndex
from .dense import DEFAULT_RESCORE, Fetch
from .exact import top_k

MISSING_SCORE = -np.inf


def dense_search_batch(index: VectorIndex, queries: np.ndarray, k: int, fetch: Fetch, rescore: int | None = None,
                       **params) -> tuple[np.ndarray, np.ndarray]:
    """(row ids, scores), each (n queries, k), best first, -1 / -inf where fewer than k
    were found: `dense_search` for each query of an unfiltered search, in one index
    call and one store fetch."""
    queries = np.atleast_2d(queries)
    factor = (rescore or DEFAULT_RESCORE) if index.spec.quantized else 1
    rowids, scores = index.search(queries, k * factor, **params)
    if factor == 1:
        return rowids[:, :k], scores[:, :k]
    found, matrix = fetch(np.unique(rowids[rowids >= 0]))
    found = np.asarray(found, dtype=np.int64)
    order = np.argsort(found, kind="stable")
    found, matrix = found[order], matrix[order]
    out_ids = np.full((len(queries), k), -1, np.int64)
    out_scores = np.full((len(queries), k), MISSING_SCORE, np.float32)
    for i, query in enumerate(queries):
        wanted = np.sort(rowids[i][rowids[i] >= 0])
        at = np.searchsorted(found, wanted)
        at = at[(at < len(found)) & (found[np.minimum(at, len(found) - 1)] == wanted)] if len(found) else at[:0]
        if not len(at):
            continue
        positions, best = top_k(query[None, :], matrix[at], k, index.metric)
        out_ids[i, :positions.shape[1]], out_scores[i, :positions.shape[1]] = found[at][positions[0]], best[0]
    return out_ids, out_scores
