"""A compiled first pass over int8 codes: one query against a filter's rows at a quarter
of the bytes their float32 vectors take (filter_codes.py keeps the result exact).

The query comes as int16 weights, so each row's score is an integer sum, exact (no
rounding to bound) and fast: the product of sign-extended int8 and int16 vectors summed in
pairs is what x86's vpmaddwd (and AVX-512 VNNI's vpdpwssd) computes, 32 codes an
instruction; written as plain LLVM vector operations, so any CPU runs it (numba's usual
loop kept 8 codes an instruction and converted each to float: 1.8x slower).

Imported on first use only (filter_codes imports it lazily): numba (it comes with
umap-learn) costs ~0.3 s to import, and most searches never get here. Compiled once,
cached on disk (cache=True)."""

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .filter_codes import LANES, ROWS


def candidate_rows(
    codes: np.ndarray,
    query: np.ndarray,
    scale: np.ndarray,
    slack: np.ndarray,
    l1: np.ndarray,
    k: int,
    extra: float = 0.0,
) -> np.ndarray | None:
    """Positions (ascending) of the coded rows that can be in the top k (0 < k <= len(slack))
    for `query` (dim,) float64, or None when the query leaves no finite bound; row i's slack
    is slack[i] + extra. One compiled call for a small k (weights, then each step's sums
    turned into bounds while the k best lower bounds are kept sorted: one pass over the
    codes and the slacks), numpy's partition for a big one."""
    if k <= 64:
        rows = _first_pass(codes, query, scale, slack, l1, k, float(extra))
        return rows if len(rows) == 0 or rows[0] >= 0 else None
    weights, unit, unit_error, radius = _weights(query, scale, codes.shape[1])
    if not (np.isfinite(radius) and np.isfinite(unit_error)):
        return None
    n = len(slack)
    approx = _kernel(codes, weights)[:n] * unit
    bound = ((slack + extra) * radius + l1 * unit_error) * WIDEN
    kth = np.partition(approx - bound, n - k)[n - k]
    return np.flatnonzero(approx + bound >= kth)


def int_scores(codes: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(rows,) int32: row i's sum over j of codes[i, j] * weights[j], exactly. codes:
    (rows, dim) int8, C-ordered, rows a multiple of ROWS, dim of LANES; weights: (dim,)
    int16 small enough that no sum leaves int32 (127 * dim * max |weight| < 2**31)."""
    return _kernel(codes, weights)


# Row i's score from its codes is sums[i] * unit, within slack[i] * radius + l1[i] * unit_error
# of its float32 score; the bound is widened by WIDEN for the float64 roundings of that
# arithmetic (six, each below 2**-53 of |score| + bound, and the bound is at least 2**-22 of
# |score|: the float32 rounding term of filter_codes' slack).
WIDEN = 1 + 2.0**-24


@numba.njit(cache=True, nogil=True)
def _weights(query, scale, width):
    """The query as int16 weights u with a unit: each query_j * scale_j is u_j * unit within
    unit_error (float64 roundings of the product, of unit * u and of the difference: each
    below 2**-52 of the peak or of the error, added), so a row's score from its codes is
    within l1 * unit_error of sum(codes * u) * unit. |u| is capped so that no sum leaves
    int32. Also the query's norm (radius)."""
    top = min(32767, (2**31 - 1) // (127 * width))
    exact = np.zeros(width)
    peak = 0.0
    radius = 0.0
    for j in range(scale.shape[0]):
        exact[j] = query[j] * np.float64(scale[j])
        peak = max(peak, abs(exact[j]))
        radius += query[j] * query[j]
    weights = np.zeros(width, np.int16)
    if not np.isfinite(radius):  # an infinite or NaN component: no bound
        return weights, 0.0, np.inf, radius
    if peak == 0:  # a zero query (or zero scales): every score is 0 exactly
        return weights, 0.0, 0.0, np.sqrt(radius)
    unit = peak / top
    error = 0.0
    for j in range(width):
        u = min(max(np.rint(exact[j] / unit), -top), top)
        weights[j] = np.int16(u)
        error = max(error, abs(exact[j] - u * unit))
    return weights, unit, error * (1 + 2.0**-50) + peak * 2.0**-50, np.sqrt(radius)


@numba.njit(cache=True, nogil=True)
def _first_pass(codes, query, scale, slack, l1, k, extra):
    """candidate_rows for a small k; [-1] for a query with no finite bound."""
    weights, unit, unit_error, radius = _weights(query, scale, codes.shape[1])
    if not (np.isfinite(radius) and np.isfinite(unit_error)):
        return np.full(1, -1, np.int64)
    n = slack.shape[0]
    best = np.full(k, -np.inf)  # the k largest lower bounds so far, ascending
    high = np.empty(n)  # each row's upper bound
    for first in range(0, n, ROWS):
        sums = _dot_rows(codes, weights, first)
        for r in range(min(ROWS, n - first)):
            i = first + r
            score = sums[r] * unit
            bound = ((slack[i] + extra) * radius + l1[i] * unit_error) * WIDEN
            high[i] = score + bound
            low = score - bound
            if low > best[0]:
                j = 1
                while j < k and best[j] < low:
                    best[j - 1] = best[j]
                    j += 1
                best[j - 1] = low
    out = np.empty(n, np.int64)
    count = 0
    for i in range(n):
        if high[i] >= best[0]:
            out[count] = i
            count += 1
    return out[:count]


@numba.njit(cache=True, nogil=True)
def _kernel(codes, weights):
    out = np.empty(codes.shape[0], np.int32)
    for i in range(0, codes.shape[0], ROWS):
        sums = _dot_rows(codes, weights, i)
        for r in range(ROWS):
            out[i + r] = sums[r]
    return out


@intrinsic
def _dot_rows(typingctx, codes, weights, first):
    """The integer dot products of rows first .. first + ROWS - 1 of codes with weights."""
    sig = types.UniTuple(types.int32, ROWS)(codes, weights, first)

    def codegen(context, builder, signature, args):
        rows = context.make_array(signature.args[0])(context, builder, args[0])
        w = context.make_array(signature.args[1])(context, builder, args[1])
        dim = builder.extract_value(rows.shape, 1)
        i64, i32 = ir.IntType(64), ir.IntType(32)
        wide, half = ir.VectorType(i32, LANES), ir.VectorType(i32, LANES // 2)
        even = ir.Constant(half, list(range(0, LANES, 2)))
        odd = ir.Constant(half, list(range(1, LANES, 2)))
        sums = [cgutils.alloca_once_value(builder, ir.Constant(half, None)) for _ in range(ROWS)]
        with cgutils.for_range(builder, builder.udiv(dim, ir.Constant(i64, LANES))) as loop:
            j = builder.mul(loop.index, ir.Constant(i64, LANES))
            wp = builder.bitcast(builder.gep(w.data, [j]), ir.VectorType(ir.IntType(16), LANES).as_pointer())
            wv = builder.sext(builder.load(wp, align=2), wide)
            for r, acc in enumerate(sums):
                at = builder.add(builder.mul(builder.add(args[2], ir.Constant(i64, r)), dim), j)
                cp = builder.bitcast(builder.gep(rows.data, [at]), ir.VectorType(ir.IntType(8), LANES).as_pointer())
                p = builder.mul(builder.sext(builder.load(cp, align=1), wide), wv)
                pairs = builder.add(builder.shuffle_vector(p, p, even), builder.shuffle_vector(p, p, odd))
                builder.store(builder.add(builder.load(acc), pairs), acc)
        fn = ir.FunctionType(i32, [half])
        reduce = cgutils.get_or_insert_function(builder.module, fn, f"llvm.vector.reduce.add.v{LANES // 2}i32")
        return context.make_tuple(
            builder, signature.return_type, [builder.call(reduce, [builder.load(a)]) for a in sums]
        )

    return sig, codegen
