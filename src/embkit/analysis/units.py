"""What the analysis verbs count: documents (the default) or chunks.

A long text is stored as chunks (records `ID#0`, `ID#1`, ... with metadata `parent`
= ID); people think of it as one document. With `unit="document"`, cluster, dedupe,
outliers and maps work on one vector per document: the mean of its chunks' vectors,
scaled to unit length in a space of unit vectors (cosine, or any space whose chunk
vectors are all unit length), left as the plain mean in a space of free lengths
(where the length is part of what l2 or dot reads). A record's document is its
metadata `parent`, else its own id (collections written before every record carried
`parent` have none on one-chunk documents).

Documents keep the order of their first row (insertion order); their text, metadata
and display come from their first chunk; their full text (for cluster terms and
"longest") is their chunks' texts in chunk order.
"""

from typing import Any, NamedTuple

import numpy as np

from ..ingest.lookup import check_unit
from ..ingest.records import chunk_number, document_of
from .common import is_unit, slice_table


class DocumentTable(NamedTuple):
    """A slice's documents, in the shape of `Collection.table` (ids, rowids, vectors,
    texts, metadatas: one row per document), with the chunks they came from."""

    ids: list[str]  # document ids
    rowids: np.ndarray  # int64: each document's first row (ascending, as in a chunk table)
    vectors: np.ndarray  # float32 (documents, dim): see the module docstring
    texts: list[str | None]  # each document's first chunk's text
    metadatas: list[dict[str, Any]]  # each document's first chunk's metadata
    chunks: Any  # the chunk Table the documents were built from
    owner: np.ndarray  # int64 (chunks,): the document row of each chunk
    single: bool  # every document is one chunk: the vectors are the stored ones, so the index serves them

    def __len__(self) -> int:
        return len(self.ids)


def unit_table(col, where: dict | None, unit: str, field: str = "where", name: str = "the collection"):
    """The slice `where` as chunks (`col.table`) or as documents (`DocumentTable`),
    refusing an empty slice as `slice_table` does."""
    check_unit(unit)
    chunks = slice_table(col, where, field, name)
    return chunks if unit == "chunk" else document_table(chunks)


def document_table(chunks) -> DocumentTable:
    """Group a chunk table (rows in row order) into documents: numpy grouping over
    the rows, one sparse product for the vector sums."""
    owner, first = _owners(chunks.ids, chunks.metadatas)
    numbers = np.array([chunk_number(m) for m in chunks.metadatas], dtype=np.int64)
    order = np.lexsort((numbers, owner))  # by document, then chunk number (stable: then row)
    starts = np.searchsorted(owner[order], np.arange(len(first)))
    head = order[starts]  # each document's first chunk
    single = len(first) == len(owner)
    vectors = chunks.vectors if single else mean_vectors(chunks.vectors, owner, len(first))
    return DocumentTable([document_of(chunks.ids[h], chunks.metadatas[h]) for h in head.tolist()],
                         chunks.rowids[first], vectors, [chunks.texts[h] for h in head.tolist()],
                         [chunks.metadatas[h] for h in head.tolist()], chunks, owner, single)


def mean_vectors(vectors: np.ndarray, owner: np.ndarray, m: int) -> np.ndarray:
    """float32 (m, dim): the mean of the rows of `vectors` owned by each of m groups,
    scaled to unit length when every row is unit length (see the module docstring)."""
    import scipy.sparse as sp

    counts = np.bincount(owner, minlength=m).astype(np.float32)
    member = sp.csr_matrix((1.0 / counts[owner], (owner, np.arange(len(owner)))), shape=(m, len(owner)))
    means = np.asarray(member @ np.asarray(vectors, dtype=np.float32), dtype=np.float32)  # float32 in, no copy
    if is_unit(vectors):
        means /= np.maximum(np.sqrt(np.einsum("ij,ij->i", means, means)), 1e-12)[:, None]
    return means


def full_texts(table) -> list[str]:
    """Each row's whole text: a chunk's own; a document's chunks' texts in chunk order."""
    if not isinstance(table, DocumentTable):
        return [t or "" for t in table.texts]
    numbers = np.array([chunk_number(m) for m in table.chunks.metadatas], dtype=np.int64)
    order = np.lexsort((numbers, table.owner))
    bounds = np.searchsorted(table.owner[order], np.arange(len(table) + 1))
    texts = [table.chunks.texts[i] or "" for i in order.tolist()]
    return ["\n\n".join(texts[a:b]) for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist())]


def text_lengths(table) -> np.ndarray:
    """Each row's amount of text: a document's is the sum of its chunks'."""
    if not isinstance(table, DocumentTable):
        return np.array([len(t or "") for t in table.texts], dtype=np.int64)
    lengths = np.array([len(t or "") for t in table.chunks.texts], dtype=np.float64)
    return np.bincount(table.owner, weights=lengths, minlength=len(table)).astype(np.int64)


def display_text(text: str | None, metadata: dict) -> str:
    """What a point or row shows: a document's `title` if it has one, else its text."""
    title = metadata.get("title")
    return title if isinstance(title, str) and title.strip() else (text or "")


def _owners(ids: list[str], metadatas: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(the document row of each record, each document's first record), documents
    numbered in order of their first record."""
    keys = np.array([document_of(i, m) for i, m in zip(ids, metadatas)], dtype=object)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    by_first = np.argsort(first, kind="stable")
    rank[by_first] = np.arange(len(first))
    return rank[inverse.ravel()], first[by_first]


