"""Deleting documents: a document id takes all its chunks, a chunk id that chunk, a filter
what it selects; one transaction, reporting documents and records gone."""

from typing import NamedTuple, Sequence

from ..errors import EmbkitError
from ..store import Store
from .lookup import filtered_records
from .records import documents_of


class Deleted(NamedTuple):
    """What a delete removed: documents, and records (a document's chunks count each)."""

    documents: int
    chunks: int
    warnings: tuple[str, ...] = ()  # what the filter names that no document has (see Collection.remove)


def remove_documents(store: Store, ids: Sequence[str] | None = None, where: dict | None = None) -> Deleted:
    """Delete by ids and/or a (validated) filter; both: the ids' records it selects.
    Refuses neither (it would delete everything)."""
    if ids is None and where is None:
        raise EmbkitError("delete: give ids or a where filter (refusing to delete everything)")
    records = filtered_records(store, ids, where)
    if not records:
        return Deleted(0, 0)
    chunks = store.delete([r.id for r in records])
    return Deleted(len(documents_of([r.id for r in records], [r.metadata for r in records])), chunks)
