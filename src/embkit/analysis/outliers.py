"""Outliers: the documents least like the rest, by how far their nearest neighbours
are (mean k-NN distance) or how much sparser their neighbourhood is than their
neighbours' (local outlier factor). Neighbours come from the collection's vector
index in batches, so the cost is n index queries, not n² comparisons. By default the
units are documents (one vector per document, analysis/units.py); documents of
several chunks are in no index and are compared exactly."""

from typing import Any, Callable, NamedTuple

import numpy as np

from ..errors import EmbkitError
from .common import BATCH, held, is_unit, nearest
from .units import check_unit, unit_table

METHODS = ("knn", "lof")


class Outlier(NamedTuple):
    """One outlying document (or chunk); `score` is higher for more outlying. A
    document's text and metadata are its first chunk's."""

    id: str
    score: float
    text: str | None
    metadata: dict[str, Any]


def outliers(col, top: int = 20, method: str = "knn", *, k: int = 10, where: dict | None = None,
             unit: str = "document", progress: Callable[[int], None] | None = None,
             reading=None) -> list[Outlier]:
    """The `top` most outlying documents (of the slice `where`; chunks with
    `unit="chunk"`), most outlying first.

    `method="knn"`: the mean distance to the k nearest other documents (1 − cosine for
    cosine collections, Euclidean for l2). `method="lof"`: the local outlier factor
    over the same k neighbours (as scikit-learn defines it; about 1 inside a cluster,
    well above 1 for a point in a sparser region than its neighbours). Ties keep
    insertion order. With `reading` (a server's read lock), the lock is held to read the
    rows and for each batch's index search only, not the whole run: the answer is of the
    rows as read (analysis/common.py `nearest`)."""
    if method not in METHODS:
        raise EmbkitError(f"method: must be one of {', '.join(METHODS)}, got {method!r}")
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise EmbkitError(f"top: must be a positive integer, got {top!r}")
    check_unit(unit)
    with held(reading):
        table = unit_table(col, where, unit)
        generation = col.generation if reading is not None else None  # the rows as read: see `nearest`
    check_neighbours(k, len(table), where)
    distances, positions = neighbour_distances(col, table, k, progress, reading, generation)
    scores = distances.mean(axis=1) if method == "knn" else lof_scores(distances, positions)
    order = np.argsort(-scores, kind="stable")[:top]
    return [Outlier(table.ids[i], float(scores[i]), table.texts[i], table.metadatas[i]) for i in order]


def check_neighbours(k: Any, n: int, where: dict | None) -> int:
    """k neighbours need at least k + 1 documents (a document is not its own neighbour)."""
    where_text = " matching where" if where is not None else ""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n - 1:
        raise EmbkitError(f"k: must be an integer from 1 to {n - 1} (the collection has {n} documents"
                          f"{where_text}), got {k!r}")
    return k


def neighbour_distances(col, table, k: int, progress=None, reading=None,
                        generation: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(distances, positions), each (n, k): every document's k nearest other documents
    in the slice, nearest first, as distances (see `to_distance`) and table positions."""
    if col.space.metric == "dot" and not is_unit(table.vectors):
        raise EmbkitError("metric: outliers need a distance, and 'dot' over vectors that are not unit length "
                          "has none; use a cosine or l2 collection")
    n = len(table)
    distances, positions = np.empty((n, k), np.float64), np.empty((n, k), np.int64)
    for start in range(0, n, BATCH):
        stop = min(start + BATCH, n)
        rowids, scores = nearest(col, table, np.arange(start, stop), k + 1, reading, generation)
        rowids, scores = _without_self(rowids, scores, table.rowids[start:stop])
        distances[start:stop] = to_distance(scores, col.space.metric)
        positions[start:stop] = np.searchsorted(table.rowids, rowids)
        if progress is not None:
            progress(stop - start)
    return distances, positions


def to_distance(scores: np.ndarray, metric: str) -> np.ndarray:
    """Index scores -> distances: Euclidean for l2, else 1 − cosine (dot is only
    accepted over unit vectors, where it is the cosine)."""
    scores = scores.astype(np.float64)
    return np.maximum(-scores if metric == "l2" else 1.0 - scores, 0.0)


def lof_scores(distances: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Local outlier factor (Breunig et al. 2000), computed as scikit-learn does:
    reach(p, o) = max(k-distance(o), d(p, o)); lrd(p) = 1 / (mean reach + 1e-10);
    LOF(p) = mean lrd of p's neighbours / lrd(p)."""
    k_distance = distances[:, -1]
    reach = np.maximum(distances, k_distance[positions])
    lrd = 1.0 / (reach.mean(axis=1) + 1e-10)
    return lrd[positions].mean(axis=1) / lrd


def _without_self(rowids: np.ndarray, scores: np.ndarray, own: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop each row's own entry from k + 1 neighbours (or the last one, when exact
    copies tie with it and push it out), leaving k."""
    drop = rowids == own[:, None]
    missing = ~drop.any(axis=1)
    drop[missing, -1] = True
    drop &= np.cumsum(drop, axis=1) == 1  # only the first match, if a row id repeats
    keep = ~drop
    k = rowids.shape[1] - 1
    return rowids[keep].reshape(-1, k), scores[keep].reshape(-1, k)
