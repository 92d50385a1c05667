"""Merging fields into stored records' metadata without touching their vectors (cluster
labels, tags): no index goes stale."""

from .. import validate
from ..errors import EmbkitError
from ..store import Store


def merge_metadata(store: Store, patches: dict[str, dict]) -> None:
    """Merge fields into records' metadata (id -> {field: value}; None removes a field)
    in one transaction; an unknown id or a bad patch rejects all of it."""
    if not isinstance(patches, dict):
        raise EmbkitError("patches: expected a dict of id -> {field: value}")
    records = {r.id: r.rowid for r in store.get(list(patches))}
    missing = [i for i in patches if i not in records]
    if missing:
        raise EmbkitError(f"ids: {len(missing)} not found (first: {missing[0]!r})")
    for i, patch in patches.items():
        try:
            validate.check_metadatas([patch], 1)
        except EmbkitError as e:
            raise EmbkitError(f"patches[{i!r}]: {str(e).split(': ', 1)[-1]}") from None
    store.merge_metadata({records[i]: patch for i, patch in patches.items()})
