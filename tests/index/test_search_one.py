"""`FaissIndex.search_one` (the plain search's call) returns what `search` returns for one
query, as lists without the pads: every backend and metric, after removes (the bitmap
selector), with per-query parameters, and when fewer than k entries exist."""

import numpy as np
import pytest

from embkit.index import BACKENDS, make_index

DIM, N = 16, 600
SPECS = {"flat": "flat", "hnsw": "hnsw:M=8,efc=40,ef=16", "ivf": "ivf:nlist=8,nprobe=2",
         "ivfpq": "ivfpq:nlist=8,m=4,nbits=4,nprobe=2", "sq8": "sq8", "binary": "binary"}
PARAMS = {"hnsw": {"ef": 40}, "ivf": {"nprobe": 8}, "ivfpq": {"nprobe": 8}}


def expected(index, query, k, params):
    rowids, scores = index.search(query, k, **params)
    keep = rowids[0] >= 0
    return rowids[0][keep].tolist(), scores[0][keep].tolist()


@pytest.mark.parametrize("metric", ["cosine", "l2"])
@pytest.mark.parametrize("kind", list(BACKENDS))
def test_search_one_equals_search(kind, metric):
    assert set(SPECS) == set(BACKENDS)  # a new backend is added here too
    if metric not in BACKENDS[kind].metrics:
        pytest.skip(f"not applicable: {kind} has no {metric}")
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(N, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = make_index(SPECS[kind], DIM, metric)
    index.add(np.arange(1000, 1000 + 3 * N, 3, dtype=np.int64), vectors)  # row ids are not labels
    queries = rng.normal(size=(8, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    for removed in (False, True):
        if removed:
            assert index.remove(np.arange(1000, 1000 + 3 * N, 6)) == N // 2  # every other row: a selector
        for i, q in enumerate(queries):
            params = PARAMS.get(kind, {}) if i % 2 else {}
            for k in (1, 10):
                rowids, scores = index.search_one(q[None, :], k, params)
                assert (rowids, scores) == expected(index, q[None, :], k, params)
                assert len(rowids) == k and all(type(r) is int for r in rowids)
                assert all(type(s) is float for s in scores)
                assert not removed or all((r - 1000) % 6 for r in rowids)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_fewer_entries_than_k_and_an_empty_index(kind):
    index = make_index(SPECS[kind], DIM, "cosine")
    q = np.ones((1, DIM), np.float32) / 4
    assert index.search_one(q, 10, {}) == ([], [])
    index.add(np.array([7, 9, 11], np.int64), np.eye(DIM, dtype=np.float32)[:3])
    index.remove([9])
    rowids, scores = index.search_one(q, 10, {})
    assert sorted(rowids) == [7, 11] and (rowids, scores) == expected(index, q, 10, {})


@pytest.mark.parametrize("kind", ["flat", "hnsw", "sq8"])
def test_a_query_not_held_whole_in_memory_is_searched_as_given(kind):
    """search_one hands FAISS a raw pointer to a float32 row held whole (C-contiguous);
    a row that is a strided view, or float64, or of another shape, takes FAISS's wrapper,
    which copies it: the same results as the contiguous row's."""
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(N, DIM)).astype(np.float32)
    index = make_index(SPECS[kind], DIM, "cosine")
    index.add(np.arange(N, dtype=np.int64), vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    wide = rng.normal(size=(DIM, 3)).astype(np.float32)
    strided = wide[:, 1][None, :]  # every third float of `wide`
    assert not strided.flags.c_contiguous
    whole = np.ascontiguousarray(strided)
    want = index.search_one(whole, 10, {})
    assert want == expected(index, whole, 10, {}) and len(want[0]) == 10
    assert index.search_one(strided, 10, {}) == want
    assert index.search_one(whole.astype(np.float64), 10, {}) == want


def test_knobs_are_checked_each_call_though_kept_once_checked():
    """Checked knobs are kept by value; True equals 1 as a dict key, so a kept 1 must not
    let True through (nor a value out of range, nor an unknown knob)."""
    from embkit.errors import EmbkitError

    index = make_index(SPECS["hnsw"], DIM, "cosine")
    index.add(np.arange(N, dtype=np.int64), np.random.default_rng(6).normal(size=(N, DIM)).astype(np.float32))
    q = np.ones((1, DIM), np.float32) / 4
    assert index.search_one(q, 1, {"ef": 1}) == index.search_one(q, 1, {"ef": 1})  # kept
    for bad in ({"ef": True}, {"ef": 0}, {"ef": None, "nprobe": 2}, {"nprobe": 2}):
        with pytest.raises(EmbkitError, match="ef|nprobe"):
            index.search_one(q, 1, bad)
