"""An index's float32 vectors read back from the store, by label: what lets an HNSW or
IVF index leave them out of its files (hnsw_storage, ivf_storage).

`rowids[label]` names each label's row. Rows gone, malformed, or changed after the
state was saved (`generation`) cannot give back the vector the index holds: the caller
is told which labels got one and deals with the rest.
"""

import numpy as np

BATCH = 8192  # rows read and copied at a time: bounds the temporary copies


def fill_by_label(matrix: np.ndarray, index, store, space: str, generation: int,
                  position: np.ndarray | None = None) -> np.ndarray:
    """Copy each live label's stored vector into `matrix` (at row `position[label]`, or
    row `label`); returns a mask over labels of those that got one."""
    labels = np.flatnonzero(index.live)
    order = np.argsort(index.rowids[labels], kind="stable")
    labels, rows = labels[order], index.rowids[labels[order]]  # live labels by row id, to look rows up
    filled = np.zeros(len(index.rowids), bool)
    for ids, vectors in _stored_batches(store, space):
        at = np.minimum(np.searchsorted(rows, ids), max(len(rows) - 1, 0))
        hit = (rows[at] == ids) if len(rows) else np.zeros(len(ids), bool)
        found = labels[at[hit]]
        places = found if position is None else position[found]
        if len(places) == len(ids) and len(places) and places[-1] - places[0] == len(places) - 1 \
                and (np.diff(places) == 1).all():
            matrix[places[0]:places[-1] + 1] = vectors  # the usual case, rows in label order: one copy
        else:
            matrix[places] = vectors[hit]
        filled[found] = True
    # read after the vectors: a row written during the scan is in the log (same transaction)
    changed = store.changed_since(generation) if generation < store.generation else np.empty(0, np.int64)
    if changed is not None and len(changed):  # None: too old to tell; the manager rebuilds such an index
        filled[labels[np.isin(rows, changed)]] = False
    return filled


def _stored_batches(store, space: str):
    """(row ids, vectors) batches of the space: a scan in table order where the store
    offers one for this space, else the whole space at once (a Matryoshka view's store
    gives truncated vectors only through `vectors`). A malformed vector (the store is
    damaged; `embkit check` says so) leaves its row out instead of failing the load."""
    if hasattr(store, "vector_batches") and space in store.spaces():
        yield from store.vector_batches(space, BATCH)
        return
    try:
        yield store.vectors(space)
        return
    except ValueError:
        if space not in store.spaces():
            raise
    dim = store.spaces()[space].dim
    for batch in store.vector_blobs(space):
        good = [(rowid, blob) for rowid, blob in batch if len(blob) == 4 * dim]
        ids = np.fromiter((r for r, _ in good), np.int64, len(good))
        yield ids, np.frombuffer(b"".join(b for _, b in good), np.float32).reshape(len(good), dim)
