"""Reading documents back by the ids people use: a record's own id gives that record (a
chunk id, one chunk); a document id gives the document's records, in chunk order. Also
counting by document or by chunk."""

from typing import Any, NamedTuple, Sequence

import numpy as np

from .. import validate
from ..errors import EmbkitError
from ..store import Record, Store
from .records import chunk_number

UNITS = ("document", "chunk")


class Document(NamedTuple):
    """A stored record, as `get` returns it (a document stored whole, or one chunk)."""

    id: str
    text: str | None
    metadata: dict[str, Any]
    vector: np.ndarray | None = None


def records_of(store: Store, ids: Sequence[str]) -> list[Record]:
    """The records of `ids`, in the order given, each once: a record's own id gives it; a
    document id stored as chunks (metadata parent) gives its chunks in chunk order."""
    found = {r.id: r for r in store.get(ids)}
    missing = list(dict.fromkeys(i for i in ids if i not in found))
    chunks: dict[str, list[Record]] = {}
    for i in range(0, len(missing), 1000):  # `$in` lists are capped
        for r in store.find({"parent": {"$in": missing[i : i + 1000]}}):
            chunks.setdefault(r.metadata["parent"], []).append(r)
    out, seen = [], set()
    for i in ids:
        group = [found[i]] if i in found else sorted(chunks.get(i, []), key=_record_chunk)
        out += [r for r in group if r.id not in seen]
        seen.update(r.id for r in group)
    return out


def filtered_records(
    store: Store, ids: Sequence[str] | None, where: dict | None, limit: int | None = None
) -> list[Record]:
    """The records of `ids` (as records_of) that `where` also selects, or, without ids,
    those `where` selects (at most `limit`). `where` is validated already."""
    if ids is None:
        return store.find(where, limit)
    records = records_of(store, validate.check_id_list(ids))
    if where is not None:
        allowed = set(store.rowids(where).tolist())
        records = [r for r in records if r.rowid in allowed]
    return records


def get_documents(
    store: Store,
    space: str,
    ids: Sequence[str] | None = None,
    where: dict | None = None,
    limit: int | None = None,
    include_vectors: bool = False,
) -> list[Document]:
    """Records by id or by filter (see filtered_records), with their vectors in `space`
    when asked."""
    records = filtered_records(store, ids, where, limit)
    vectors = {}
    if include_vectors and records:
        rowids, matrix = store.vectors(space, [r.rowid for r in records])
        vectors = dict(zip(rowids.tolist(), matrix))
    return [Document(r.id, r.text, r.metadata, vectors.get(r.rowid)) for r in records]


def check_unit(unit: str) -> str:
    """`unit` is 'document' or 'chunk', else an error naming it."""
    if unit not in UNITS:
        raise EmbkitError(f"unit: must be one of {', '.join(UNITS)}, got {unit!r}")
    return unit


def count(store: Store, where: dict | None = None, unit: str = "chunk") -> int:
    """Records (`unit="chunk"`: each chunk of a long document counts) or documents
    matching `where` (validated already)."""
    check_unit(unit)
    return store.count(where) if unit == "chunk" else store.count_documents(where)


def _record_chunk(record: Record) -> int:
    return chunk_number(record.metadata)
