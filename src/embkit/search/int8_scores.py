"""A compiled first pass over int8 codes: one query against a filter's rows at a quarter
of the bytes their float32 vectors take (filter_codes.py keeps the result exact).

Imported on first use only (filter_codes imports it lazily): numba (it comes with
umap-learn) costs ~0.3 s to import, and most searches never get here. Compiled once,
cached on disk (cache=True)."""

import numba
import numpy as np


def approx_scores(codes: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(n,) float32: row i's sum over j of codes[i, j] * weights[j] (weights: the query
    times each dimension's scale). Summed in any order (vectorized): its error is bounded
    by filter_codes' slack, whatever the order."""
    return _kernel(codes, np.ascontiguousarray(weights, dtype=np.float32))


# reassoc lets the sum vectorize; contract fuses multiply-adds (more exact, not less).
# No nnan/ninf: the pass must not assume anything it is not told.
@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _kernel(codes, weights):
    n, d = codes.shape
    out = np.empty(n, np.float32)
    for i in range(n):
        acc = np.float32(0.0)
        for j in range(d):
            acc += np.float32(codes[i, j]) * weights[j]
        out[i] = acc
    return out


def candidates(approx: np.ndarray, slack: np.ndarray, radius: float, k: int) -> np.ndarray:
    """Positions (ascending) of the rows whose upper bound, approx + slack * radius,
    reaches the k-th largest lower bound, approx - slack * radius (0 < k <= len(approx)):
    the rows that can be in the top k. One compiled pass for a small k (the k best lower
    bounds kept sorted), numpy's partition for a big one."""
    if k > 64:
        low = approx - slack * radius
        kth = np.partition(low, len(low) - k)[len(low) - k]
        return np.flatnonzero(approx + slack * radius >= kth)
    return _candidates(approx, slack, radius, k)


@numba.njit(cache=True, nogil=True)
def _candidates(approx, slack, radius, k):
    best = np.full(k, -np.inf)  # the k largest lower bounds so far, ascending
    for i in range(approx.shape[0]):
        low = np.float64(approx[i]) - slack[i] * radius
        if low > best[0]:
            j = 1
            while j < k and best[j] < low:
                best[j - 1] = best[j]
                j += 1
            best[j - 1] = low
    out = np.empty(approx.shape[0], np.int64)
    count = 0
    for i in range(approx.shape[0]):
        if np.float64(approx[i]) + slack[i] * radius >= best[0]:
            out[count] = i
            count += 1
    return out[:count]
