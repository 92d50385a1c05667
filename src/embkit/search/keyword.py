"""Keyword (BM25) search: the query's terms scored by the store's own keyword index.

The index lives in the store and changes in the same transaction as the text it
indexes (store/keyword_sqlite.py; PostgreSQL keeps it in its own tables), so it is
never stale and needs no saving: this class only turns a query into terms and asks.
"""

import numpy as np

from .. import validate
from ..store import Store, bm25
from ..store.keyword_terms import DESCRIPTION, tokenize_terms

KIND = "bm25"
PARAMS = {"method": "lucene", "k1": bm25.K1, "b": bm25.B}


class KeywordIndex:
    """BM25 over the text of `store`'s documents."""

    def __init__(self, store: Store):
        self.store = store

    def search(self, query: str, k: int, allow: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(row ids int64, BM25 scores float32), best first (ties by row id), of the `k`
        best documents with a score above 0, among the row ids in `allow` if given. A
        query of only stopwords (or of terms no document has) finds nothing."""
        validate.check_query(query)
        k = validate.check_k(k)
        return self.store.keyword_top_k(tokenize_terms(query), k, allow)

    def rebuild(self, progress=None) -> None:
        """Build the index again from the store's text (`embkit check --repair`)."""
        self.store.rebuild_keyword(progress)

    def save(self) -> None:
        """Nothing to save: every write commits the index with the text."""

    def info(self) -> dict:
        """What the index is: documents and terms it holds, its size on disk."""
        stats = self.store.keyword_stats()
        return {"kind": KIND, "in_store": True, "current": True, "docs": stats["docs"], "tokens": stats["tokens"],
                "bytes": stats["bytes"], "params": dict(PARAMS), "tokenizer": DESCRIPTION}
