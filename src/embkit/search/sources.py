"""The parts a search reads, handed over by the collection as they are (store, vector
index, Matryoshka views, keyword index, encoders), and the candidate lists the
pipeline asks of them (see pipeline.Sources)."""

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..store import Space, Store
from ..store.keyword_terms import tokenize_terms
from .dense import DEFAULT_RESCORE, dense_search
from .exact import top_k
from .keyword import KeywordIndex
from .matryoshka import Views, truncate
from .query_vector import EncoderFor
from .request import SearchRequest


@dataclass
class SearchParts:
    """What a search needs of a collection's space. `index` is an IndexManager or a
    database-side index (pgvector): both give `current(wait=False)`; `keyword` builds
    the BM25 index on first use."""

    store: Store
    space: Space
    index: Any
    views: Views
    keyword: Callable[[], KeywordIndex]
    encoder_for: EncoderFor


class StoreSources:
    """Candidates for one checked request from the parts (pipeline.Sources)."""

    def __init__(self, parts: SearchParts, req: SearchRequest):
        self.parts, self.rescore, self.params, self.dims = parts, req.rescore, req.index_params(), req.dims

    def _fetch(self, rowids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.parts.store.vectors(self.parts.space.name, rowids)

    def dense(self, vector, n, allow):
        if self.dims:
            return self._truncated(vector, n, allow)
        index = self.parts.index.current(wait=False)
        return dense_search(index, vector, n, self._fetch, allow=allow, rescore=self.rescore, **self.params)

    def _truncated(self, vector, n, allow):
        """Candidates from the Matryoshka view, rescored with the full vectors."""
        metric, dims = self.parts.space.metric, self.dims
        factor = self.rescore or DEFAULT_RESCORE

        def fetch(rowids):
            found, vectors = self._fetch(rowids)
            return found, truncate(vectors, dims, metric)

        index = self.parts.views(dims).current(wait=False)
        rowids, scores = dense_search(index, truncate(vector, dims, metric), n * factor, fetch, allow=allow,
                                      **self.params)
        if factor == 1 or not len(rowids):
            return rowids[:n], scores[:n]
        found, vectors = self._fetch(rowids)
        positions, best = top_k(np.atleast_2d(vector), vectors, n, metric)
        return found[positions[0]], best[0]

    def keyword(self, query, n, allow):
        return self.parts.keyword().search(query, n, allow)

    def records(self, rowids):
        return self.parts.store.search_records(rowids)

    def vectors(self, rowids):
        return self._fetch(rowids)


class DatabaseSources(StoreSources):
    """Candidates from a database that ranks itself (PostgreSQL + pgvector): the dense
    and the keyword lists, their records and the filter's warnings come from one
    statement, sent at the first `dense` or `keyword` call; `where` travels as SQL, so
    the pipeline's `allow` is None here."""

    def __init__(self, parts: SearchParts, req: SearchRequest):
        super().__init__(parts, req)
        self.req, self.found = req, None

    @staticmethod
    def serves(parts: SearchParts, req: SearchRequest) -> bool:
        """True for a search it can run whole: a database-side index, no Matryoshka view."""
        return req.dims is None and hasattr(parts.index, "searcher")

    @property
    def warnings(self) -> list[str]:
        return self.found.warnings if self.found is not None else []

    @property
    def superseded(self) -> dict[str, str] | None:
        """{old space: its successor} as the statement read it (None: none ran)."""
        return self.found.superseded if self.found is not None else None

    def _statement(self, vector, n):
        if self.found is None:
            dense, keyword = self.req.mode in ("dense", "hybrid"), self.req.mode in ("keyword", "hybrid")
            self.found = self.parts.index.searcher().candidates(
                vector if dense else None, n if dense else 0, tokenize_terms(self.req.query) if keyword else None,
                n if keyword else 0, self.req.where, **self.params)
        return self.found

    def dense(self, vector, n, allow):
        return self._statement(vector, n).dense

    def keyword(self, query, n, allow):
        return self._statement(None, n).keyword

    def records(self, rowids):
        have = self.found.records if self.found is not None else {}
        wanted = [int(r) for r in rowids]
        missing = [r for r in wanted if r not in have]
        fetched = self.parts.store.by_rowids(missing) if missing else {}
        return {r: have.get(r) or fetched[r] for r in wanted if r in have or r in fetched}
