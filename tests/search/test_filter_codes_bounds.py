"""Int8 filter codes (search/filter_codes.py) at the edges of float32: the candidates
they keep must still hold brute force's top k."""

import numpy as np

from embkit.search import exact, filter_codes


def test_a_subnormal_component_drops_no_hit():
    """One row's only non-zero value in a dimension is subnormal (1e-44): that
    dimension's scale (peak / 127) rounded to 0, every code and slack became NaN, and
    the filter's top 3 came back as one wrong row."""
    matrix = np.random.default_rng(0).normal(size=(3000, 8)).astype(np.float32)
    matrix[:, 7] = 0
    matrix[5, 7] = np.float32(1e-44)
    rowids = np.arange(3000)
    codes = filter_codes.encode(rowids, rowids, matrix)
    assert np.isfinite(codes.slack).all()
    query = np.ones((1, 8), np.float32)
    ids, scores = filter_codes.top_k(codes, query, matrix, 3, "dot")
    best, best_scores = exact.top_k(query, matrix, 3, "dot")
    assert ids.tolist() == best[0].tolist()
    np.testing.assert_allclose(scores, best_scores[0], rtol=1e-6)


def test_tiny_vectors_drop_no_hit():
    """Vectors of norm ~1e-20 (dot product): the squares in each row's error bound
    underflowed to 0 in float32, the bound was ~0, and rows of the true top 10 were
    left out (10 of 50 queries answered wrongly)."""
    rng = np.random.default_rng(0)
    matrix = (rng.normal(size=(3000, 64)) * 1e-21).astype(np.float32)
    rowids = np.arange(3000)
    codes = filter_codes.encode(rowids, rowids, matrix)
    for query in rng.normal(size=(50, 1, 64)).astype(np.float32):
        ids, scores = filter_codes.top_k(codes, query, matrix, 10, "dot")
        best, best_scores = exact.top_k(query, matrix, 10, "dot")
        assert ids.tolist() == best[0].tolist()
        np.testing.assert_allclose(scores, best_scores[0], rtol=1e-6)
