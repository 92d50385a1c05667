"""The warm plain search in one function: from `Collection.search(vector=..., k=...,
ef=...)`'s keywords to its hits, without making a SearchRequest, for the call most
searches are (a float32 row of the space's width, already of unit length for cosine and
no longer than MAX_LENGTH for l2 and dot; an index loaded, caught up and searched as it
is; hits whose rows the store reads in one statement or hit_rows keeps). Each step is
plain.py's for that request; anything else (another form of vector, a knob out of
range, an index catching up or building, a row gone since the index was read, a write
since it caught up) answers None, and the general plain path (SearchRequest.plain_of,
plain_found) answers instead, with the same hits or the same error."""

import math

import numpy as np

from ..ingest.vectors import MAX_LENGTH, UNIT
from . import hit_rows
from .plain import hits_of_rows
from .request import MAX_SEARCH_PARAM

_FLOAT32 = np.dtype(np.float32)
_NO_PARAMS: dict = {}
_EF_PARAMS: dict[int, dict] = {}  # {ef: {"ef": ef}}: the same dict each time (read-only)


def warm_plain(options: dict, space, store, manager) -> tuple[list, dict | None] | None:
    """(hits, the reembed map the rows' statement read) of `SearchRequest.plain_of(options,
    space)` searched in `manager`'s index over `store`, or None (see above)."""
    get = options.get
    vector, k, ef = options["vector"], get("k", 10), get("ef")
    if (type(vector) is not np.ndarray or vector.dtype is not _FLOAT32 or vector.shape != (space.dim,)
            or not vector.flags.c_contiguous or type(k) is not int or not 0 < k <= store_rows(store)
            or get("nprobe") is not None or get("rescore") is not None):
        return None
    if ef is None:
        params = _NO_PARAMS
    elif type(ef) is int and 0 < ef <= MAX_SEARCH_PARAM:
        params = _EF_PARAMS.get(ef) or _EF_PARAMS.setdefault(ef, {"ef": ef})
    else:
        return None
    row = vector[None, :]
    with np.errstate(over="ignore", invalid="ignore"):
        norm = np.sqrt(np.add.reduce(row * row, axis=1))[0]  # stored_form's expression (request._query_vector)
    if not math.isfinite(norm) or (abs(norm - 1) > UNIT if space.metric == "cosine" else norm > MAX_LENGTH):
        return None  # refused, or normalized first (through float64 when float32's sum overflowed): the general path
    generation = manager.generation  # before the index: a catch-up changes the index, then this (plain._as_it_is)
    index = manager.index
    if index is None or manager.building or index.stands_in_for is not None or index.spec.quantized:
        return None
    rowids, scores = index.search_one(row, k, params)
    rows = hit_rows.search_rows(store, rowids, generation)
    if getattr(rows, "generation", None) != generation:  # a write since the index caught up
        return None
    hits = hits_of_rows(rows, rowids, scores)
    return (hits, getattr(rows, "superseded", None)) if len(hits) == len(rowids) else None


def store_rows(store) -> int:
    """The most hits whose rows `store` reads in one statement with its generation (0: none)."""
    return getattr(store, "SEARCH_ROWS_SEEN", 0)
