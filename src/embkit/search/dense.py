"""Dense search over a vector index: filters that keep their recall, and rescoring
of quantized candidates with the float32 vectors from the store."""

from typing import Callable

import numpy as np

from ..index import VectorIndex
from . import filter_codes_cache
from .exact import top_k, top_k_of_rows

Fetch = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # row ids -> (row ids found, float32 vectors)

EXACT_FILTER_LIMIT = 20_000  # a filter leaving at most this many rows is searched exactly...
EXACT_FILTER_SHARE = 0.05  # ...and so is one leaving at most this share of the index
DEFAULT_RESCORE = 4  # quantized indexes fetch k x 4 candidates and rerank them exactly
MAX_BOOST = 16  # how far ef/nprobe are widened for a broad filter


def dense_search(index: VectorIndex, query: np.ndarray, k: int, fetch: Fetch, allow: np.ndarray | None = None,
                 rescore: int | None = None, **params) -> tuple[np.ndarray, np.ndarray]:
    """(row ids, scores) of the best `k` for one query, best first.

    A selective filter (few rows) is searched exactly among its rows: graph and bucket
    indexes starve under tight filters, and a flat scan would read every row. A broad
    one runs the index restricted to the allowed rows, with ef/nprobe widened by
    1/selectivity, and falls back to exact if the index still returns too few. Quantized indexes rescore `k × rescore`
    candidates against the stored float32 vectors (rescore=1 turns that off)."""
    query = np.atleast_2d(query)  # rescore was checked with the request (search/request.py)
    factor = (rescore or DEFAULT_RESCORE) if index.spec.quantized else 1
    if allow is not None:
        if len(allow) == 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        if len(allow) <= max(EXACT_FILTER_LIMIT, EXACT_FILTER_SHARE * index.ntotal):
            return _exact(query, allow, k, fetch, index.metric, index)  # flat too: its rows, not all
        if index.kind != "flat":  # flat is exhaustive: its selector loses nothing
            params = _widened(index, params, 2 * index.ntotal / len(allow))
    rowids, scores = index.search(query, k * factor, allow=allow, **params)
    rowids, scores = rowids[0], scores[0]
    keep = rowids >= 0
    rowids, scores = rowids[keep], scores[keep]
    if allow is not None and len(rowids) < min(k, len(allow)):
        return _exact(query, allow, k, fetch, index.metric, index)
    if factor > 1 and len(rowids):
        return _exact(query, rowids, k, fetch, index.metric)
    return rowids[:k], scores[:k]


def _exact(query: np.ndarray, rowids: np.ndarray, k: int, fetch: Fetch, metric: str,
           index: VectorIndex | None = None):
    """Brute force over `rowids`, ties by row id. A filter's rows are scored from the
    vectors the index holds in memory when it holds them as stored (flat, HNSW): reading
    them from the store cost ~6 ms per 1,000 rows. (Quantized candidates are rescored
    from the store: their index holds codes.) A big filter asked again is scored from
    its int8 codes first, still exactly (filter_codes.py)."""
    lock = getattr(index, "lock", None)
    if lock is None:
        return _exact_scored(query, rowids, k, fetch, metric, index)
    with lock.reading():  # the index's vectors are read in place: no catch-up (add) in another thread meanwhile
        return _exact_scored(query, rowids, k, fetch, metric, index)


def _exact_scored(query: np.ndarray, rowids: np.ndarray, k: int, fetch: Fetch, metric: str,
                  index: VectorIndex | None):
    coded = filter_codes_cache.search(index, query, rowids, k, metric) if index is not None else None
    if coded is not None:
        return coded
    rowids = np.sort(np.asarray(rowids, dtype=np.int64))
    held = index.held_rows(rowids) if hasattr(index, "held_rows") else None
    if held is not None:
        found, labels, matrix = held
    else:
        (found, matrix), labels = fetch(rowids), None
    if len(found) == 0:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    if labels is not None:
        positions, scores = top_k_of_rows(query, matrix, labels, k, metric)
    else:
        positions, scores = top_k(query, matrix, k, metric)
    return found[positions[0]], scores[0]


def _widened(index: VectorIndex, params: dict, boost: float) -> dict:
    boost = min(boost, MAX_BOOST)
    params = dict(params)
    for key in ("ef", "nprobe"):
        if key in index.params:
            limit = index.params.get("nlist", 4096) if key == "nprobe" else 4096
            params[key] = int(min(limit, max(params.get(key) or index.params[key], 1) * boost))
    return params
