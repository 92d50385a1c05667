"""Searching: one SearchRequest, checked once, run by search/run.py over the parts this
handle holds (store, space, vector index, Matryoshka views, keyword index, encoders)."""

import warnings
from dataclasses import replace
from typing import Callable

from ..errors import EmbkitWarning
from ..search import Hit
from ..search.context import Context
from ..search.keyword import KeywordIndex
from ..search.request import SearchRequest
from ..search.run import Found, run_context, run_search
from ..search.sources import SearchParts
from ..search.warm_plain import warm_plain
from .tower_route import text_route, tower_space


class SearchVerbs:
    """search, find, context (the stages live in search/)."""

    def search(self, query: str | None = None, **options) -> list[Hit]:
        """Top-k for a text `query`, an `image` (path or PIL image), an `audio` clip (a
        path, a file's bytes, or mono samples at the model's rate), a `vector`, or the
        document with id `like` (more like this; the document itself is left out), in
        vector space `space` (this collection's by default). Options are the fields of
        `SearchRequest` (k, where, mode, rrf_k, alpha, mmr, rerank, reranker,
        documents, ef, nprobe, rescore, dims, space, model), documented there.
        `by_document=` is the old name of `documents=` (DeprecationWarning). A filter
        naming what no document has warns (EmbkitWarning)."""
        if SearchRequest.plain_options(query, options):  # a vector, k, index knobs: made and checked in one step
            col = self._serving(None, cached=True)
            try:  # the warm common case in one call; None: the general plain path answers (the same hits or error)
                warm = warm_plain(options, col.space, col._store, col._index)
            except Exception:  # e.g. IndexBusy: the general path below raises it (or follows a switch)
                warm = None
            if warm is not None and not self._superseded_since(col, warm[1]):
                return warm[0]
            found = self._following(
                None, lambda col: run_search(SearchRequest.plain_of(options, col.space), col._search_parts())
            )
        else:
            found = self.find(SearchRequest.of(query, **options))
        for line in found.warnings:
            warnings.warn(line, EmbkitWarning, stacklevel=2)
        return found.hits

    def find(self, request: SearchRequest) -> Found:
        """The hits of a `SearchRequest` with its warnings, for a door that reports them
        itself (HTTP, CLI --json). The request is checked here, once. With no space
        named, the request goes where collection/tower_route.py says: a clip to the
        `audio` space, a picture to the `image` space, `like` to the space holding that
        document's vector, and a text query on a CLAP/CLIP text tower whose text space
        holds no documents to the paired tower's space (the sounds or pictures `add` put
        there are what there is to find)."""
        # a vector is searched where it is given: tower_space (a read of the spaces table) has nothing to route
        if request.space is None and self._root is None and request.vector is None:
            space = tower_space(self._store, self.space, request, self._text_route)
            if space is not None:
                request = replace(request, space=space)
        return self._following(request.space, lambda col: run_search(request.check(col.space), col._search_parts()))

    def _following(self, space: str | None, run: Callable, found: Callable = lambda result: result):
        """`run(col)` in the collection serving `space`. On PostgreSQL the search statement
        itself reads which spaces a reembed replaced: a switch another process made since
        the last search is seen there (or in the statement failing on a dropped space),
        and the search runs again in the new space (rare); so a search is one round trip."""
        col = self._serving(space, cached=True)
        try:
            result = run(col)
        except Exception:
            if not self._superseded_since(col, None):
                raise
        else:
            if not self._superseded_since(col, found(result).superseded):
                return result
        return run(self._serving(space, cached=True))

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
        """`context` with its warnings returned rather than issued (for the server). With
        no space named, the question goes where a search's text query would (find)."""
        if options.get("space") is None and options.get("mode") != "keyword" and self._root is None:
            routed = text_route(self._store, self.space, self._text_route)
            if routed is not None:
                options = {**options, "space": routed}
        ctx, found = self._following(
            options.get("space"),
            lambda col: run_context(question, budget_tokens, options, col._search_parts()),
            lambda result: result[1],
        )
        return ctx, found.warnings

    def _search_parts(self) -> SearchParts:
        return SearchParts(self._store, self.space, self._index, self._views, self.keyword_index, self._encoder_for)

    def keyword_index(self) -> KeywordIndex:
        """BM25 over the documents' text (the store keeps the index)."""
        if self._root is not None:  # one BM25 index per collection, whichever space asks
            return self._root.keyword_index()
        if self._keyword is None:
            self._keyword = KeywordIndex(self._store)
        return self._keyword
