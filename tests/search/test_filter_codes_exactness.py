"""A big filter's top k from its int8 codes (filter_codes.py) is brute force's, bit for bit,
on the inputs where a relative error bound alone is not enough: rows tied at the k-th
score (duplicates), float32 scores that overflow to inf or NaN, products that underflow
to subnormals or 0; and, as properties, on random rows and queries of any size. Brute
force here is every row's float32 score (einsum, row by row, as exact.py scores) sorted
by score, then row id."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from embkit.search import exact, filter_codes, filter_codes_cache


@pytest.fixture(autouse=True, scope="module")
def kernel():
    assert filter_codes_cache.load_kernel(wait=None)


def brute(query, matrix, k):
    """(positions, float32 scores): best first, ties by position (NaN last)."""
    s = np.einsum("ij,j->i", matrix, query[0]).astype(np.float32)
    order = np.lexsort((np.arange(len(s)), -s))[:k]
    return order, s[order]


def assert_brute_force(matrix, query, k, metric="dot"):
    """The codes' top k and the direct pass's are both brute force's, ids and bytes."""
    rowids = np.arange(len(matrix))
    codes = filter_codes.encode(rowids, rowids, matrix)
    want, want_scores = brute(query, matrix, k)
    ids, scores = filter_codes.top_k(codes, query, matrix, k, metric)
    positions, direct_scores = exact.top_k_of_rows(query, matrix, rowids, k, metric)
    assert ids.tolist() == want.tolist()
    assert scores.tobytes() == want_scores.tobytes()
    assert positions[0].tolist() == want.tolist()
    assert direct_scores[0].tobytes() == want_scores.tobytes()


@pytest.mark.parametrize("k", [1, 7, 64, 65, 150])
def test_duplicate_rows_tied_at_the_kth_score_resolve_by_row_id(k):
    """3,000 rows drawn from 50 vectors: the k-th score is shared by ~60 rows, and brute
    force keeps the first of them. argpartition kept any (the direct pass and the codes'
    few candidates kept different ones)."""
    rng = np.random.default_rng(k)
    matrix = rng.normal(size=(50, 32)).astype(np.float32)[rng.integers(0, 50, 3000)]
    for query in rng.normal(size=(5, 1, 32)).astype(np.float32):
        assert_brute_force(matrix, query, k)


@pytest.mark.parametrize("size", [1e19, 1e20])
def test_scores_that_overflow_float32(size):
    """Rows and query near 1e19-1e20 (finite, accepted by the store for dot): products and
    sums overflow to inf and NaN, where the bounds ranked the real values instead."""
    rng = np.random.default_rng(3)
    matrix = (rng.normal(size=(3000, 32)) * size).astype(np.float32)
    query = (rng.normal(size=(1, 32)) * size).astype(np.float32)
    assert_brute_force(matrix, query, 10)


def test_scores_that_underflow_to_zero():
    """Rows and query near 1e-24: every float32 product is 0 or subnormal, so brute force
    ties them at 0 (first rows by id) where the bounds ranked the real values."""
    rng = np.random.default_rng(4)
    matrix = (rng.normal(size=(3000, 32)) * 1e-24).astype(np.float32)
    query = (rng.normal(size=(1, 32)) * 1e-24).astype(np.float32)
    assert_brute_force(matrix, query, 10)


magnitudes = st.sampled_from([0.0, 1e-30, 1e-20, 1e-3, 1.0, 1e3, 1e17, 1e19])


@settings(max_examples=120, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 400), dim=st.integers(1, 70), k=st.integers(1, 120),
       row_size=magnitudes, query_size=magnitudes, distinct=st.integers(1, 400), zero_rows=st.booleans())
def test_any_rows_and_query(seed, n, dim, k, row_size, query_size, distinct, zero_rows):
    """Random rows (some duplicated, some zero, components spanning 12 orders of magnitude)
    and a query of any size: ids and scores are brute force's."""
    rng = np.random.default_rng(seed)
    spread = 10.0 ** rng.integers(-6, 7, size=(distinct, dim))
    matrix = (rng.normal(size=(distinct, dim)) * spread * row_size).astype(np.float32)[rng.integers(0, distinct, n)]
    if zero_rows:
        matrix[rng.random(n) < 0.2] = 0
    query = (rng.normal(size=(1, dim)) * query_size).astype(np.float32)
    query[0, rng.random(dim) < 0.2] = 0
    assert_brute_force(matrix, query, k)
