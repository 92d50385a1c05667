"""The int8 first pass of a big filter (search/int8_scores.py, filter_codes.py): integer
sums that are exact up to int32's limit, query weights whose rounding is inside the
bound, and scores equal bit for bit to scoring the filter's rows directly."""

import numpy as np
import pytest

from embkit.search import exact, filter_codes, filter_codes_cache
from embkit.search.int8_scores import int_scores


@pytest.fixture(autouse=True, scope="module")
def kernel():
    assert filter_codes_cache.load_kernel(wait=None)


@pytest.mark.parametrize("dim", [32, 384, 4096])
def test_integer_sums_are_exact_at_the_extremes(dim):
    """Codes at +-127 against weights at the largest size filter_codes allows for the
    width: every sum equals numpy's in int64 (none wraps around int32)."""
    top = min(32767, (2**31 - 1) // (127 * dim))
    rng = np.random.default_rng(dim)
    codes = rng.choice([-127, 127], size=(8, dim)).astype(np.int8)
    weights = rng.choice([-top, top], size=dim).astype(np.int16)
    codes[0], weights[:] = 127, top  # the largest sum there is
    expected = codes.astype(np.int64) @ weights.astype(np.int64)
    assert int_scores(codes, weights).tolist() == expected.tolist()


def direct(query, matrix, k, metric):
    """Every row scored, as dense search does for a filter asked the first time."""
    positions, scores = exact.top_k_of_rows(query, matrix, np.arange(len(matrix)), k, metric)
    return positions[0], scores[0]


@pytest.mark.parametrize("k", [10, 100])
def test_scores_equal_direct_scoring_bit_for_bit(k):
    """384-d unit rows, 2,999 of them (no multiple of the kernel's 4 rows): the top k from
    the codes are the direct pass's ids with its very float32 scores. With BLAS scoring,
    a candidate scored among ~20 rows differed by an ulp from the same row scored in a
    block of 512 (~4% of rows; here the test failed with HEAD's exact.py)."""
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(2999, 384)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    rowids = np.arange(2999)
    codes = filter_codes.encode(rowids, rowids, matrix)
    for query in rng.normal(size=(30, 1, 384)).astype(np.float32):
        query /= np.linalg.norm(query)
        ids, scores = filter_codes.top_k(codes, query, matrix, k, "cosine")
        best, best_scores = direct(query, matrix, k, "cosine")
        assert ids.tolist() == best.tolist()
        assert scores.tobytes() == best_scores.tobytes()


@pytest.mark.parametrize("size", [0.0, 1e-30, 1e-3, 1e30])
def test_queries_of_any_size_keep_the_top_k(size):
    """Dot product, a query scaled from 0 to 1e30 and one with a single loud component:
    the weights' rounding stays inside the bound (same ids, same scores as direct)."""
    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(3001, 40)).astype(np.float32)
    rowids = np.arange(3001)
    codes = filter_codes.encode(rowids, rowids, matrix)
    for query in rng.normal(size=(10, 1, 40)).astype(np.float32):
        query[0, 3] *= 1000
        query = (query * np.float32(size)).astype(np.float32)
        ids, scores = filter_codes.top_k(codes, query, matrix, 5, "dot")
        best, best_scores = direct(query, matrix, 5, "dot")
        assert ids.tolist() == best.tolist()
        assert scores.tobytes() == best_scores.tobytes()


def test_a_query_with_no_finite_bound_scores_every_row():
    """An infinite component leaves no error bound: every row is scored, as directly."""
    matrix = np.random.default_rng(2).normal(size=(3000, 8)).astype(np.float32)
    codes = filter_codes.encode(np.arange(3000), np.arange(3000), matrix)
    query = np.ones((1, 8), np.float32)
    query[0, 2] = np.inf
    ids, _ = filter_codes.top_k(codes, query, matrix, 3, "dot")
    assert ids.tolist() == direct(query, matrix, 3, "dot")[0].tolist()
