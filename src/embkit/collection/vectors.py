"""Vectors in bulk for the analysis verbs and the similarity tools: the table of
every document, batched nearest neighbours, embedding and pairwise scores."""

from typing import Any, NamedTuple, Sequence

import numpy as np

from .. import validate
from ..encoders.prompts import check_role, encode_as
from ..errors import EmbkitError
from ..search.exact import scores as pairwise_scores


class Table(NamedTuple):
    """Many documents at once, for the analysis verbs: parallel lists in row order."""

    ids: list[str]
    rowids: np.ndarray  # int64, the store's row ids
    vectors: np.ndarray  # float32 (n, dim), as stored (unit length for cosine)
    texts: list[str | None]
    metadatas: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.ids)


class VectorVerbs:
    """table, knn, embed, similarity, fields."""

    def table(self, where: dict | None = None) -> Table:
        """Every document (matching `where`) with its vector, in row order. No filter
        warnings: the analysis verbs reading it refuse an empty slice with an error that
        names a field no document has (analysis/common.py), which says it already."""
        rowids = self._store.rowids(validate.check_where(where)) if where is not None else None
        found, vectors = self._store.vectors(self.space.name, rowids)
        records = self._store.by_rowids(found) if len(found) else {}
        rows = [records[r] for r in found.tolist()]
        return Table([r.id for r in rows], found, vectors, [r.text for r in rows], [r.metadata for r in rows])

    def row_ids(self, where: dict | None = None) -> np.ndarray:
        """The store's row ids (int64, ascending) of the records matching `where`."""
        return np.sort(self._store.rowids(validate.check_where(where) if where is not None else None))

    def records_at(self, rowids: np.ndarray) -> dict:
        """The records at these row ids, by row id."""
        return self._store.by_rowids(rowids) if len(rowids) else {}

    def knn(self, vectors: np.ndarray, k: int, allow: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(row ids, scores), each (n, k), of the nearest stored vectors to each row of
        `vectors`, through the vector index in one batched call (-1 pads missing)."""
        vectors = self._prepare(vectors, "vectors")
        index = self._index.current()
        return index.search(vectors, k, allow=allow)

    def embed(self, texts: Sequence[str], batch_size: int = 32, role: str | None = None) -> np.ndarray:
        """Vectors for `texts` from this collection's encoder, prepared as stored.
        `role` "query" or "document" ("passage" reads as "document") puts the model's
        prompt for that role before each text, as search and add do; None: the texts
        as given."""
        role = check_role(role)
        texts = validate.check_texts(texts)
        col = self._serving(None)  # after a reembed switched: the model that now serves this space
        return col._prepare(encode_as(col.encoder, texts, role, batch_size), "texts")

    def similarity(self, a: Sequence[str], b: Sequence[str], query: bool = False) -> np.ndarray:
        """(len(a), len(b)) scores of each text in `a` against each in `b`, in the
        collection's metric (cosine; dot; l2 as negated distance). `query`: the texts
        of `a` are queries and those of `b` documents, each with its role's prompt
        (as a search compares them); else all are embedded as given."""
        if not isinstance(query, bool):
            raise EmbkitError(f"query: must be true or false, got {query!r}")
        a, b = validate.check_texts(a, "a"), validate.check_texts(b, "b")
        roles = ("query", "document") if query else (None, None)
        return pairwise_scores(
            self.embed(a, role=roles[0]), self.embed(b, role=roles[1]), self._serving(None).space.metric
        ).astype(np.float32)

    def fields(self, sample: int = 1000, top: int = 20) -> dict[str, dict]:
        """Metadata fields of (a sample of) the documents: the JSON types seen and the
        most common values, most common first; for filter menus."""
        from collections import Counter

        seen: dict[str, tuple[set, Counter]] = {}
        for record in self._store.find(None, sample):
            for key, value in record.metadata.items():
                types, counts = seen.setdefault(key, (set(), Counter()))
                types.add(type(value).__name__)
                if isinstance(value, (str, int, float, bool)):
                    counts[value] += 1
        return {
            key: {"types": sorted(types), "values": [v for v, _ in counts.most_common(top)]}
            for key, (types, counts) in sorted(seen.items())
        }
