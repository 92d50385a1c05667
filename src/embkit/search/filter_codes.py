"""Exact top-k over a big filter's rows from int8 codes first, float32 only for the few
rows that can still make the top k.

Scoring a filter's rows exactly reads every one of their float32 vectors: 10,000 rows
(1% of a million) are 15 MB scattered over the index's memory, ~2 ms a query. Asked
again (the same read-only row array, from the store's filter cache, in the same index
state), the rows' vectors are kept as int8 codes, one scale per dimension (3.8 MB,
contiguous): a compiled pass scores them all against the query's int16 weights (integer
sums, exact), and each row's error is bounded (`encode`'s slack: the rounding residual by
Cauchy-Schwarz, plus float32 rounding of the exact pass's sum; the int16 weights' error
times the row's sum of |codes|: int8_scores._weights), so a row whose upper bound is below the k-th best lower bound
cannot be in the top k. The rest (~20 rows of 10,000 on a 384-d text model) are scored
exactly from the index's float32 vectors, so ids and scores are those of brute force.

Which row arrays are encoded, and for how long: filter_codes_cache.py.
"""

from dataclasses import dataclass

import numpy as np

from .exact import top_k_of_rows

MIN_ROWS = 2_000  # fewer rows are cheap to score directly
METRICS = ("cosine", "dot")  # scores that are dot products (l2 is scored directly)
UNIT = 2.0**-24  # float32 unit roundoff
OVERFLOW = 2.0**127  # scores bounded below this cannot overflow float32 (its largest is ~2**128)
BLOCK = 4096  # rows gathered at a time while encoding
LANES = 32  # codes per vector operation of the compiled pass: rows are zero-padded to a multiple
ROWS = 4  # rows per step of the compiled pass: zero rows are added up to a multiple


@dataclass(frozen=True)
class FilterCodes:
    """One row array's int8 codes in one index state, rows by ascending row id."""

    rowids: np.ndarray
    labels: np.ndarray  # each row's label in the index (its float32 vector: matrix[label])
    codes: np.ndarray  # (n + padding, dim + padding) int8, padding zero (int8_scores' layout)
    scale: np.ndarray  # (dim,) float32: vector ~ codes * scale
    slack: np.ndarray  # (n,) float64: |float32 score - score of the codes| <= slack * |query|
    l1: np.ndarray  # (n,) float64: each row's sum of |codes|, for the query weights' error

    @property
    def nbytes(self) -> int:
        return self.codes.nbytes + self.rowids.nbytes + self.labels.nbytes + self.slack.nbytes + self.l1.nbytes


def encode(rowids: np.ndarray, labels: np.ndarray, matrix: np.ndarray) -> FilterCodes:
    """The codes of `matrix[labels]` (rows `rowids`), with each row's error bound."""
    order = np.argsort(rowids, kind="stable")
    rowids, labels = rowids[order], labels[order]
    dim = matrix.shape[1]
    peak = np.zeros(dim, np.float32)
    for start in range(0, len(labels), BLOCK):
        np.maximum(peak, np.abs(matrix[labels[start : start + BLOCK]]).max(axis=0, initial=0), out=peak)
    # at least float32's smallest normal: a subnormal peak / 127 rounds to 0, and v / 0
    # made NaN codes and slacks, which no candidate test passes (true hits were dropped)
    scale = np.maximum(peak / np.float32(127), np.finfo(np.float32).tiny).astype(np.float32)
    codes = np.zeros((-(-len(labels) // ROWS) * ROWS, -(-dim // LANES) * LANES), np.int8)
    slack = np.empty(len(labels), np.float64)
    # norms are summed in float32 on rows scaled by a power of two (exact) that brings the
    # largest value near 1: squares of tiny vectors (1e-21) underflowed to 0, and their
    # slack with them (true hits were dropped); what still underflows is below `floor`
    up = 2.0 ** int(np.clip(-np.ceil(np.log2(peak.max())), -126, 126)) if peak.max() > 0 else 1.0
    floor = np.sqrt(dim) * 2.0**-60 / up
    for start in range(0, len(labels), BLOCK):
        v = matrix[labels[start : start + BLOCK]]
        c = np.clip(np.rint(v / scale), -127, 127)
        codes[start : start + len(v), :dim] = c
        approx = c * scale
        # all in float32 (float64 took 4x longer): each of these norms is off by at most
        # (dim + 2) roundings, and approx by one, covered by `rounding`'s terms
        residual = _norms(v - approx, up) * (1 + 2 * (dim + 2) * UNIT)
        # float32 rounding of the sums: the exact pass (dim of |v|) and the term of an earlier
        # float32 compiled pass (dim + 1 roundings of |c * scale|; its sums are exact integers
        # now, the term stays: it covers approx's rounding), doubled for second-order terms;
        # int8_scores.candidates relies on this being at least 2**-22 of |v|
        rounding = 2 * (dim + 3) * UNIT * (_norms(approx, up) + _norms(v, up))
        slack[start : start + BLOCK] = (residual + rounding + floor) * (1 + 1e-6)
    l1 = np.abs(codes[: len(labels)]).sum(axis=1, dtype=np.int64).astype(np.float64)
    return FilterCodes(rowids, labels, codes, scale, slack, l1)


def _norms(rows: np.ndarray, up: float) -> np.ndarray:
    """Each row's Euclidean norm, summed in float32 on `rows * up` (`up`: a power of two)."""
    rows = rows * np.float32(up)
    return np.sqrt(np.einsum("ij,ij->i", rows, rows)).astype(np.float64) / up


def top_k(
    codes: FilterCodes, query: np.ndarray, matrix: np.ndarray, k: int, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    """(row ids, scores) of the best `k` of the coded rows for one query (1, dim), best
    first, ties by row id: exactly what scoring every row's float32 vector gives."""
    from .int8_scores import candidate_rows

    k = min(k, len(codes.rowids))
    if k == 0:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    q = np.asarray(query[0], np.float64)
    rows = None
    # the bound is relative (float32 rounding): valid only if no float32 product or sum of the
    # exact pass overflows (|v_j| <= 127 scale_j, so |score| stays below 127 * scale . |q|),
    # and each product that underflows is off by up to 2**-150 more (absolute: added to the
    # slack, per unit of |q|); both cases had their scores tie at inf, NaN or 0, which brute
    # force breaks by row id, the bounds by the exact values
    if 127 * np.dot(codes.scale, np.abs(q)) < OVERFLOW:
        radius = np.sqrt(np.dot(q, q))
        extra = (len(q) + 2) * 2.0**-149 / radius if radius > 0 else 0.0  # added to each slack
        # ascending: row id order, for ties
        rows = candidate_rows(codes.codes, q, codes.scale, codes.slack, codes.l1, k, extra)
    if rows is None:  # a query with no finite bound: score every row
        rows = np.arange(len(codes.rowids))
    positions, scores = top_k_of_rows(query, matrix, codes.labels[rows], k, metric)
    return codes.rowids[rows[positions[0]]], scores[0]
