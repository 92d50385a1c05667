"""Exact top-k by brute force: the reference every index is measured against."""

import numpy as np

METRICS = ("cosine", "dot", "l2")
BLOCK = 512  # rows a top_k_of_rows scores per product: OpenBLAS keeps 1 x 384 x 512 on one thread
SORT_LIMIT = 512  # up to this many rows, one query's best are found by sorting them all


def scores(queries: np.ndarray, vectors: np.ndarray, metric: str) -> np.ndarray:
    """(n_queries, n_vectors) similarity, higher is better: dot product for cosine (vectors
    are unit length at write time) and dot, negated Euclidean distance for l2."""
    if metric in ("cosine", "dot"):
        return queries @ vectors.T
    if metric == "l2":
        sq = (queries**2).sum(1)[:, None] - 2 * queries @ vectors.T + (vectors**2).sum(1)[None, :]
        return -np.sqrt(np.maximum(sq, 0.0))
    raise ValueError(f"metric: unknown {metric!r} (allowed: {', '.join(METRICS)})")


def top_k(queries: np.ndarray, vectors: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(positions, scores), each (n_queries, min(k, n)), best first; ties keep row order."""
    return _best(scores(np.atleast_2d(queries), vectors, metric), k)


def top_k_of_rows(queries: np.ndarray, matrix: np.ndarray, rows: np.ndarray, k: int,
                  metric: str) -> tuple[np.ndarray, np.ndarray]:
    """`top_k` over `matrix[rows]`, positions into `rows`, scored BLOCK rows at a time:
    each block is copied while it is still in cache (10,000 rows at once went to two BLAS
    threads, which on a busy machine waited 16 ms for what one thread computes in 1.5).
    Dot products are summed row by row by einsum, so a row's float32 score does not depend
    on which other rows are scored with it (BLAS's did, by an ulp for ~4% of rows: a
    filter's rows scored all at once and only its int8 candidates (filter_codes.py) gave
    other scores); ~1.3x BLAS's time, most of it the gather either way."""
    queries = np.atleast_2d(queries)
    s = np.empty((len(queries), len(rows)), np.float32)
    for start in range(0, len(rows), BLOCK):
        block = matrix[rows[start:start + BLOCK]]
        if metric in ("cosine", "dot"):
            for i, query in enumerate(queries):
                s[i, start:start + BLOCK] = np.einsum("ij,j->i", block, query)
        else:
            s[:, start:start + BLOCK] = scores(queries, block, metric)
    return _best(s, k)


def _best(s: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    k = min(k, s.shape[1])
    if k == 0:
        return np.empty((s.shape[0], 0), np.int64), np.empty((s.shape[0], 0), np.float32)
    if s.shape[0] == 1 and s.shape[1] <= SORT_LIMIT:
        # one query, few rows (a small filter, int8 candidates): a stable sort of all of
        # them gives the same order (best first, ties by position, NaN last) in ~2 us
        # where the general path's numpy steps took ~25
        positions = np.argsort(-s[0], kind="stable")[None, :k]
        return positions, s[0, positions[0]][None].astype(np.float32, copy=False)
    if k < s.shape[1]:
        part = np.argpartition(-s, k - 1, axis=1)[:, :k]
        # argpartition picks any of the rows tied with the k-th score: where more rows tie
        # with it than fit, the first of them by position (brute force over a filter and
        # over its int8 candidates, filter_codes.py, picked different ones)
        kth = (-np.take_along_axis(s, part, axis=1)).max(axis=1, keepdims=True)  # NaN: fewer than k numbers
        for i in np.flatnonzero(np.isnan(kth[:, 0]) | ((s >= -kth).sum(axis=1) > k)):
            part[i] = _first_best(s[i], k, -kth[i, 0])
    else:
        part = np.tile(np.arange(s.shape[1]), (s.shape[0], 1))
    part_scores = np.take_along_axis(s, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    positions = np.take_along_axis(part, order, axis=1)
    return positions, np.take_along_axis(s, positions, axis=1).astype(np.float32)


def _first_best(s: np.ndarray, k: int, kth: float) -> np.ndarray:
    """The positions of the k best of one row of scores, ties by position (NaN last);
    `kth`: the k-th best score (NaN: fewer than k are numbers)."""
    near = np.arange(len(s)) if np.isnan(kth) else np.flatnonzero(s >= kth)
    return near[np.argsort(-s[near], kind="stable")[:k]]
