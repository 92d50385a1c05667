"""Fusion and MMR as pure functions: hand-computed expectations."""

import numpy as np
import pytest

from embkit.errors import EmbkitError
from embkit.search.fusion import rrf, weighted
from embkit.search.mmr import mmr


def lst(ids, scores):
    return np.array(ids, dtype=np.int64), np.array(scores, dtype=np.float32)


def test_rrf_matches_the_formula():
    dense = lst([1, 2, 3], [0.9, 0.8, 0.7])
    keyword = lst([3, 4, 1], [12.0, 9.0, 1.0])
    fused = rrf([dense, keyword], rrf_k=60)
    expected = {1: 1 / 61 + 1 / 63, 2: 1 / 62, 3: 1 / 63 + 1 / 61, 4: 1 / 62}
    # 1 and 3 tie; the dense list's better rank (1) wins; 2 and 4 tie: dense rank wins again
    assert fused.rowids.tolist() == [1, 3, 2, 4]
    assert np.allclose(fused.scores, [expected[r] for r in fused.rowids.tolist()], atol=1e-7)
    assert fused.sources[0][3] == (pytest.approx(0.7), 3) and fused.sources[1][3] == (12.0, 1)
    assert 2 not in fused.sources[1]


def test_rrf_k_changes_the_balance_and_is_validated():
    dense = lst([1, 2, 3, 4, 5], [5, 4, 3, 2, 1])
    keyword = lst([5, 9], [2, 1])
    assert rrf([dense, keyword], rrf_k=0).rowids[0] == 5  # 1/5 + 1/1 beats 1/1
    assert rrf([dense, keyword], rrf_k=1000).rowids[0] == 5  # 1/1005 + 1/1001 beats 1/1001
    for bad in (-1, 1.5, True, 10_001, "60"):
        with pytest.raises(EmbkitError, match="rrf_k"):
            rrf([dense], rrf_k=bad)


def test_weighted_normalizes_each_list_and_weights_by_alpha():
    dense = lst([1, 2, 3], [0.9, 0.5, 0.1])  # normalized 1, 0.5, 0
    keyword = lst([3, 2], [10.0, 4.0])  # normalized 1, 0
    fused = weighted(dense, keyword, alpha=0.5)
    expected = {1: 0.5, 2: 0.25, 3: 0.5}
    assert fused.rowids.tolist() == [1, 3, 2]  # 1 and 3 tie at 0.5: dense rank first
    assert np.allclose(fused.scores, [expected[r] for r in fused.rowids.tolist()])
    assert weighted(dense, keyword, alpha=1.0).rowids.tolist()[:1] == [1]
    assert weighted(dense, keyword, alpha=0.0).rowids.tolist()[:1] == [3]
    with pytest.raises(EmbkitError, match="alpha"):
        weighted(dense, keyword, alpha=1.5)


def test_weighted_with_an_empty_list_keeps_the_other_order():
    fused = weighted(lst([7, 8], [0.3, 0.2]), lst([], []), alpha=0.7)
    assert fused.rowids.tolist() == [7, 8]


def test_mmr_skips_near_duplicates():
    v = np.array([[1, 0, 0], [0.999, 0.045, 0], [0, 1, 0], [0.7, 0.7, 0]], dtype=np.float32)
    relevance = np.array([1.0, 0.99, 0.5, 0.4])
    assert mmr(relevance, v, 2, 1.0).tolist() == [0, 1]  # relevance only
    assert mmr(relevance, v, 2, 0.5).tolist() == [0, 2]  # the near-copy of 0 is passed over
    assert mmr(relevance, v, 10, 0.5).tolist()[:2] == [0, 2] and len(mmr(relevance, v, 10, 0.5)) == 4
