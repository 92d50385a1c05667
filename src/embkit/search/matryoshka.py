"""Matryoshka search: a truncated view of a vector space. A model trained with
Matryoshka dimensions keeps most of its quality in its first d dimensions, so
candidates can come from the first d dimensions (a smaller, faster index) and the
best of them be rescored with the full vectors.

The view is a space of its own to the index layer (`text@128`, its own index folder
and spec), fed by a store proxy that hands out truncated, re-normalized vectors. It
is derived from the same store rows, so it follows every write like the full index."""

import numpy as np

from ..errors import EmbkitError
from ..index.manager import IndexManager
from ..store import Space


def check_dims(dims, space: Space) -> int | None:
    """None for the full dimension; else an integer from 1 to the space's dimension."""
    if dims is None:
        return None
    if isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= space.dim:
        raise EmbkitError(f"dims: must be an integer from 1 to {space.dim} (the space's dimension), got {dims!r}")
    return None if dims == space.dim else dims


def truncate(vectors: np.ndarray, dims: int, metric: str) -> np.ndarray:
    """The first `dims` columns; re-normalized for cosine (a prefix of a unit vector is not)."""
    out = np.array(np.atleast_2d(vectors)[:, :dims], dtype=np.float32, order="C")  # a copy: normalized in place
    if metric == "cosine":
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out /= np.where(norms > 0, norms, 1)
    return out


def view_space(space: Space, dims: int) -> Space:
    return Space(f"{space.name}@{dims}", space.model, dims, space.metric, space.normalized)


class TruncatedStore:
    """The store as a truncated view's index sees it: vectors cut to `dims`. The change
    log is shared with the full index, so this view never prunes it."""

    def __init__(self, store, space: Space, dims: int):
        self._store, self._space, self._dims = store, space, dims

    def __getattr__(self, name):
        return getattr(self._store, name)

    def vectors(self, space: str, rowids=None):
        found, vectors = self._store.vectors(self._space.name, rowids)
        return found, truncate(vectors, self._dims, self._space.metric)

    def prune_changes(self, upto: int) -> None:
        pass


class Views:
    """The Matryoshka views of one space, by dimension: each an index over the first
    `dims` dimensions in its own folder under `index_root`, made on first use."""

    def __init__(self, store, space: Space, index_root):
        self._store, self._space, self._root = store, space, index_root
        self._managers: dict[int, IndexManager] = {}

    def __call__(self, dims: int) -> IndexManager:
        if dims not in self._managers:
            view = view_space(self._space, dims)
            self._managers[dims] = IndexManager(
                TruncatedStore(self._store, self._space, dims), view, self._root / view.name
            )
        return self._managers[dims]

    def items(self):
        """(dims, index manager) of each view made so far, for saving."""
        return list(self._managers.items())
