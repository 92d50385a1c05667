"""Searching: one SearchRequest, checked once, run by search/run.py over the parts this
handle holds (store, space, vector index, Matryoshka views, keyword index, encoders)."""

import warnings

from ..errors import EmbkitWarning
from ..search import Hit
from ..search.context import Context
from ..search.keyword import KeywordIndex
from ..search.request import SearchRequest
from ..search.run import Found, run_context, run_search
from ..search.sources import SearchParts


class SearchVerbs:
    """search, find, context (the stages live in search/)."""

    def search(self, query: str | None = None, **options) -> list[Hit]:
        """Top-k for a text `query`, an `image` (path or PIL image), a `vector`, or the
        document with id `like` (more like this; the document itself is left out), in
        vector space `space` (this collection's by default). Options are the fields of
        `SearchRequest` (k, where, mode, rrf_k, alpha, mmr, rerank, reranker,
        documents, ef, nprobe, rescore, dims, space, model), documented there.
        `by_document=` is the old name of `documents=` (DeprecationWarning). A filter
        naming what no document has warns (EmbkitWarning)."""
        found = self.find(SearchRequest.of(query, **options))
        for line in found.warnings:
            warnings.warn(line, EmbkitWarning, stacklevel=2)
        return found.hits

    def find(self, request: SearchRequest) -> Found:
        """The hits of a `SearchRequest` with its warnings, for a door that reports them
        itself (HTTP, CLI --json). The request is checked here, once."""
        col = self._serving(request.space)
        return run_search(request.check(col.space), col._search_parts())

    def context(
        self,
        question: str,
        budget_tokens: int = 1500,
        *,
        k: int = 20,
        where: dict | None = None,
        mode: str | None = None,
        rerank: int | None = None,
        reranker: str | None = None,
    ) -> Context:
        """Passages for an LLM prompt: the best hits for `question` (hybrid search by
        default), deduplicated, numbered and cited, within `budget_tokens`.
        `Context.text` is the block to paste; `Context.passages` has the citations."""
        ctx, notes = self.find_context(
            question, budget_tokens, k=k, where=where, mode=mode, rerank=rerank, reranker=reranker
        )
        for line in notes:
            warnings.warn(line, EmbkitWarning, stacklevel=2)
        return ctx

    def find_context(self, question: str, budget_tokens: int = 1500, **options) -> tuple[Context, list[str]]:
        """`context` with its warnings returned rather than issued (for the server)."""
        return run_context(question, budget_tokens, options, self._serving(options.get("space"))._search_parts())

    def _search_parts(self) -> SearchParts:
        return SearchParts(self._store, self.space, self._index, self._views, self.keyword_index, self._encoder_for)

    def keyword_index(self) -> KeywordIndex:
        """BM25 over the documents' text (the store keeps the index)."""
        if self._root is not None:  # one BM25 index per collection, whichever space asks
            return self._root.keyword_index()
        if self._keyword is None:
            self._keyword = KeywordIndex(self._store)
        return self._keyword
