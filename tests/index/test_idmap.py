"""The compact on-disk id map: runs of row ids and live bits round-trip exactly."""

import numpy as np
import pytest

from embkit.index import idmap, make_index
from embkit.index.spec import parse_spec


@pytest.mark.parametrize("rowids", [[], [7], list(range(1, 1001)), [1, 2, 3, 7, 8, 20], [5, 3, 4], [2**40, 2**40 + 1]])
def test_runs_round_trip(rowids):
    rowids = np.array(rowids, dtype=np.int64)
    runs = idmap.to_runs(rowids)
    assert np.array_equal(idmap.from_runs(runs), rowids)
    assert len(runs) == (0 if len(rowids) == 0 else 1 + int((np.diff(rowids) != 1).sum()))


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 1000])
def test_live_bits_round_trip(n):
    live = np.random.default_rng(n).random(n) > 0.3
    assert np.array_equal(idmap.unpack_live(idmap.pack_live(live), n), live)
    with pytest.raises(ValueError, match="live flags"):
        idmap.unpack_live(np.zeros((n + 7) // 8 + 1, np.uint8), n)


def test_bad_run_length_is_refused():
    with pytest.raises(ValueError, match="non-positive"):
        idmap.from_runs(np.array([[1, 0]]))


def test_sq8_is_four_times_smaller_than_float32():
    """Codes are dim bytes per vector; the id map of a contiguous index adds one bit."""
    dim, n = 384, 5000
    x = np.random.default_rng(0).standard_normal((n, dim)).astype(np.float32)
    index = make_index(parse_spec("sq8"), dim, "cosine")
    index.add(np.arange(1, n + 1), x)
    ratio = n * dim * 4 / index.nbytes
    assert 3.95 < ratio <= 4.0
