"""Which label of a FAISS index holds a store row: `index.rowids[label]` says it one way,
this map the other, so a search can read the vectors of chosen rows (a filter's) from
the index's memory (FaissIndex.held_rows) instead of the store."""

import threading
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .faiss_base import FaissIndex


class LabelMap:
    """Row id -> live label (-1: none), as an array indexed by row id: kept up to date
    by add and remove (a write costs what it changes, not the index's size), rebuilt
    whole when the index's arrays were replaced (loaded). Row ids far sparser than the
    entries (most rows deleted) are looked up by binary search instead."""

    def __init__(self):
        self._map: np.ndarray | None = None
        self._of: np.ndarray | None = None  # the `live` array the map reflects
        # Searches run side by side: one building the map must not let another read it half
        # filled (rows of a filter silently dropped).
        self._lock = threading.RLock()

    def of(self, index: "FaissIndex", rowids: np.ndarray) -> np.ndarray:
        with self._lock:
            return self._of_locked(index, rowids)

    def _of_locked(self, index: "FaissIndex", rowids: np.ndarray) -> np.ndarray:
        if self._of is not index.live:
            self._build(index)
        if self._map is None:  # sparse row ids
            return _labels_by_search(index, rowids)
        inside = (rowids >= 0) & (rowids < len(self._map))
        return np.where(inside, self._map[np.where(inside, rowids, 0)], -1)

    def live_labels(self, index: "FaissIndex", rowids: np.ndarray) -> np.ndarray | None:
        """The live labels of these row ids, each once; None when scanning the index's
        row ids costs no more (many rows, or row ids too sparse for the array)."""
        if len(rowids) * 16 > len(index.rowids):
            return None
        with self._lock:
            return self._live_labels_locked(index, rowids)

    def _live_labels_locked(self, index: "FaissIndex", rowids: np.ndarray) -> np.ndarray | None:
        if self._of is not index.live:
            self._build(index)
        if self._map is None:
            return None
        labels = self._of_locked(index, rowids)
        return np.unique(labels[labels >= 0])

    def _build(self, index: "FaissIndex") -> None:
        self._of, self._map = index.live, None
        span = int(index.rowids.max()) + 1 if len(index.rowids) else 0
        if span > 8 * len(index.rowids) + 1_000_000:
            return
        self._map = np.full(span, -1, dtype=np.int64)
        labels = np.flatnonzero(index.live)
        self._map[index.rowids[labels]] = labels

    def added(self, index: "FaissIndex", ids: np.ndarray, before: np.ndarray) -> None:
        """`ids` were appended as the index's last labels; `before`: its `live` until then."""
        with self._lock:
            self._added_locked(index, ids, before)

    def _added_locked(self, index: "FaissIndex", ids: np.ndarray, before: np.ndarray) -> None:
        if self._map is None or self._of is not before:  # not built, sparse, or stale: rebuilt when asked
            self._of = None
            return
        top = int(ids.max()) + 1 if len(ids) else 0
        if top > len(self._map):
            if top > 8 * len(index.rowids) + 1_000_000:
                self._of = None
                return
            grown = np.full(max(top, 2 * len(self._map)), -1, dtype=np.int64)  # doubling: amortized
            grown[:len(self._map)] = self._map
            self._map = grown
        self._map[ids] = np.arange(len(index.rowids) - len(ids), len(index.rowids))
        self._of = index.live

    def removed(self, rowids: np.ndarray) -> None:
        with self._lock:
            if self._map is not None:
                self._map[rowids[rowids < len(self._map)]] = -1


def _labels_by_search(index: "FaissIndex", rowids: np.ndarray) -> np.ndarray:
    labels = np.flatnonzero(index.live)
    if len(labels) == 0:
        return np.full(len(rowids), -1, dtype=np.int64)
    labels = labels[np.argsort(index.rowids[labels], kind="stable")]
    known = index.rowids[labels]
    at = np.minimum(np.searchsorted(known, rowids), len(known) - 1)
    return np.where(known[at] == rowids, labels[at], -1)
