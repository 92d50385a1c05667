"""One search, from a query to hits: candidates (dense ∥ keyword) → fuse → best chunk
per document (optional) → rerank (optional) → diversify (optional) → top k.

The collection supplies the parts (`Sources`); this module holds the order of stages
and the bookkeeping that lets every hit say how it was found."""

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from ..ingest.records import document_of
from .fusion import DEFAULT_ALPHA, Fused, rrf, sources_of, weighted
from .hit import Hit
from .mmr import mmr
from .request import MODES, SearchRequest
from .rerank import blend_of, blend_scores, load_reranker, rerank_scores
from .vanished_rows import lost_rows, searched_again

__all__ = ["MODES", "Plan", "Sources", "retrieve"]
HYBRID_DEPTH = 100  # candidates each retriever hands to fusion
CHUNK_FIELDS = ("parent", "source", "page", "start", "end")
NO_CHUNK = (None,) * len(CHUNK_FIELDS)
NO_SOURCE = (None, None)  # (score, rank) of a retriever that did not find the hit


class Sources(Protocol):
    def dense(self, vector: np.ndarray, n: int, allow: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]: ...
    def keyword(self, query: str, n: int, allow: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]: ...
    def records(self, rowids) -> dict: ...
    def vectors(self, rowids: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass
class Plan:
    """What a checked request resolved to: the query vector (computed only if a dense
    retriever runs), the rows the filter allows, and ids never returned (`like`'s own)."""

    vector: Callable[[], np.ndarray]
    allow: np.ndarray | None = None
    exclude: frozenset[str] = frozenset()


def depth(req: SearchRequest, plan: Plan) -> int:
    """How many candidates each retriever fetches for the later stages."""
    n = max(req.k, req.rerank or 0, 4 * req.k if req.mmr is not None else 0)
    n *= 3 if req.documents else 1  # several chunks of one document may come first
    n += len(plan.exclude)
    return max(n, HYBRID_DEPTH) if req.mode == "hybrid" else n


def retrieve(req: SearchRequest, plan: Plan, sources: Sources) -> list[Hit]:
    """The hits of a checked request, in the order of the stages above."""
    n = depth(req, plan)
    # a row the index named may be gone when read (another handle's delete or upsert): asked again
    fused, dense_src, keyword_src, rowids, records = searched_again(lambda: _candidates(req, plan, sources, n))
    exclude = plan.exclude
    rows = [(r, s) for r, s in zip(rowids, np.asarray(fused.scores).tolist())
            if r in records and (not exclude or records[r].id not in exclude)]
    if req.documents:
        rows = _best_chunk_per_document(rows, records)
    rerank = {}
    if req.rerank is not None and rows:
        rows, rerank = _reranked(rows, records, req)
    if req.mmr is not None and len(rows) > 1:
        rows = _diversified(rows, req, sources)
    return [hit_of(records[r], s, dense_src.get(r), keyword_src.get(r), rerank.get(r)) for r, s in rows[:req.k]]


def _candidates(req: SearchRequest, plan: Plan, sources: Sources, n: int):
    """((fused lists, dense and keyword (score, rank) by row, row ids, their records),
    whether rows a full list named were gone when read: vanished_rows)."""
    lists = []
    if req.mode in ("dense", "hybrid"):
        lists.append(sources.dense(plan.vector(), n, plan.allow))
    if req.mode in ("keyword", "hybrid"):
        lists.append(sources.keyword(req.query, n, plan.allow))
    if req.mode == "hybrid":
        if req.rrf_k is not None:
            fused = rrf(lists, req.rrf_k)
        else:
            fused = weighted(*lists, DEFAULT_ALPHA if req.alpha is None else req.alpha)
        dense_src, keyword_src = fused.sources
    else:
        fused = Fused(lists[0][0], lists[0][1], sources_of(lists))
        dense_src, keyword_src = (fused.sources[0], {}) if req.mode == "dense" else ({}, fused.sources[0])
    rowids = np.asarray(fused.rowids).tolist()
    records = sources.records(rowids)  # metadata decoded only where read: the hits returned
    full = any(len(found) >= n for found, _ in lists)
    return (fused, dense_src, keyword_src, rowids, records), lost_rows(len(records), len(rowids), full)


def _best_chunk_per_document(rows, records):
    seen, kept = set(), []
    for row, score in rows:
        parent = document_of(records[row].id, records[row].metadata)
        if parent not in seen:
            seen.add(parent)
            kept.append((row, score))
    return kept


def _reranked(rows, records, req: SearchRequest):
    """The top N in the reranker's order (blended with the first stage's scores when the
    reranker was trained by embkit with a tuned weight); the rest follow unchanged."""
    head, tail = rows[:req.rerank], rows[req.rerank:]
    raw = rerank_scores(load_reranker(req.reranker), req.query, [records[r].text for r, _ in head])
    scores = blend_scores(np.array([s for _, s in head]), raw, blend_of(req.reranker))
    order = np.argsort(-scores, kind="stable")
    return [(head[i][0], float(scores[i])) for i in order] + tail, {head[i][0]: float(raw[i]) for i in order}


def _diversified(rows, req: SearchRequest, sources: Sources):
    pool = rows[:max(4 * req.k, req.k)]
    found, matrix = sources.vectors(np.array([r for r, _ in pool], dtype=np.int64))
    by_row = dict(zip(found.tolist(), matrix))
    pool = [(r, s) for r, s in pool if r in by_row]
    picks = mmr(np.array([s for _, s in pool]), np.stack([by_row[r] for r, _ in pool]), req.k, req.mmr)
    return [pool[i] for i in picks]


_new_hit = tuple.__new__  # Hit's fields given whole: no defaults to fill, no keyword parsing


def hit_of(record, score, dense, keyword, rerank) -> Hit:
    """The Hit of `record`: `dense` / `keyword` are (score, rank) or None, the chunk fields
    read from its metadata."""
    meta = record.metadata
    # Hit's fields in order (id, score, text, metadata, dense_*, keyword_*, rerank_score, chunk: CHUNK_FIELDS)
    return _new_hit(Hit, (record.id, score, record.text, meta, *(dense or NO_SOURCE), *(keyword or NO_SOURCE),
                          rerank, *chunk_of(meta)))


def chunk_of(meta: dict | None) -> tuple:
    """A hit's chunk fields (CHUNK_FIELDS) from its metadata: NO_CHUNK for a whole document."""
    if meta and (meta.get("parent") is not None or meta.get("source") is not None):
        return meta.get("parent"), meta.get("source"), meta.get("page"), meta.get("start"), meta.get("end")
    return NO_CHUNK
