"""exact._best: one query's few rows (sorted whole) and the general path (partition, then
sort) give the same positions and scores: best first, ties by position, NaN last."""

import numpy as np
import pytest

from embkit.search import exact


def _general(s: np.ndarray, k: int, monkeypatch) -> tuple[np.ndarray, np.ndarray]:
    with monkeypatch.context() as m:
        m.setattr(exact, "SORT_LIMIT", 0)
        return exact._best(s, k)


@pytest.mark.parametrize("seed", range(40))
def test_sorted_few_rows_equal_the_general_path(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, exact.SORT_LIMIT + 1))
    # few distinct values, so many ties, with NaN, infinities and both zeros among them
    pool = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 0.5, -0.25, 1e-30, 3.0], np.float32)
    s = pool[rng.integers(0, len(pool), (1, n))]
    for k in (1, 3, 10, n, n + 5):
        fast, fast_scores = exact._best(s, k)
        slow, slow_scores = _general(s, k, monkeypatch)
        assert fast.tolist() == slow.tolist()
        assert fast_scores.dtype == slow_scores.dtype == np.float32
        np.testing.assert_array_equal(fast_scores, slow_scores)


def test_ties_keep_position_order_and_nan_goes_last():
    s = np.array([[0.5, np.nan, 1.0, 0.5, 1.0, -np.inf]], np.float32)
    positions, scores = exact._best(s, 6)
    assert positions.tolist() == [[2, 4, 0, 3, 5, 1]]
    assert scores[0, :5].tolist() == [1.0, 1.0, 0.5, 0.5, -np.inf] and np.isnan(scores[0, 5])
