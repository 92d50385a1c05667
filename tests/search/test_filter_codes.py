"""A big filter asked again is scored from int8 codes first (search/filter_codes.py):
the hits stay exactly brute force's (ids, tie order by row id, float32 scores), the
codes are made only for an array seen twice in one index state, and never outlive a
change of the index or of the filter's rows."""

import threading

import numpy as np
import pytest

import embkit
from embkit.search import filter_codes, filter_codes_cache
from embkit.store import field_indexes

N, DIM, K = 6000, 24, 10
WHERE = {"half": 1}  # 3,000 rows: above filter_codes.MIN_ROWS, below dense's exact limit


def vectors(n: int, seed: int = 0) -> np.ndarray:
    """Normal vectors with a few loud dimensions and some silent ones (all zero)."""
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    v[:, :3] *= 8
    v[:, -2:] = 0
    return v


@pytest.mark.parametrize("metric", ["cosine", "dot"])
def test_codes_give_brute_forces_top_k(metric):
    """Against scoring every row in float64: the same row ids in the same order, the
    same scores, for k from 1 to all rows (given unsorted), over 20 queries."""
    matrix = vectors(3000)
    if metric == "cosine":
        matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    rng = np.random.default_rng(1)
    rowids = rng.permutation(np.arange(0, 6000, 2))  # row id 2 * label
    labels = rowids // 2
    codes = filter_codes.encode(rowids, labels, matrix)
    for query in rng.normal(size=(20, DIM)).astype(np.float32):
        query = query / np.linalg.norm(query) if metric == "cosine" else query
        for k in (1, K, 3000):
            ids, scores = filter_codes.top_k(codes, query[None], matrix, k, metric)
            exact = matrix.astype(np.float64) @ query
            best = np.lexsort((np.arange(3000), -exact))[:k]
            if k < 3000:  # all 3,000: some neighbours are closer than float32 tells apart
                assert ids.tolist() == (2 * best).tolist()
            assert sorted(ids.tolist()) == sorted((2 * best).tolist())
            np.testing.assert_allclose(scores, exact[best], rtol=1e-6, atol=1e-5)


def test_twins_rank_by_row_id():
    """Equal vectors score alike (small integers: every sum exact), the lower row id first."""
    matrix = np.random.default_rng(4).integers(-3, 4, size=(3000, DIM)).astype(np.float32)
    matrix[2500] = matrix[700] = 9
    codes = filter_codes.encode(np.arange(3000)[::-1], np.arange(3000)[::-1], matrix)
    ids, scores = filter_codes.top_k(codes, np.ones((1, DIM), np.float32), matrix, 2, "dot")
    assert ids.tolist() == [700, 2500] and scores.tolist() == [9.0 * DIM, 9.0 * DIM]


@pytest.fixture
def col(tmp_path, monkeypatch):
    assert filter_codes_cache.load_kernel(wait=None)  # loaded in the background otherwise: wait for it here
    monkeypatch.setattr(field_indexes, "INDEX_FROM", 100)
    col = embkit.create(tmp_path / "c", model=None, dim=DIM)
    col.add(ids=[f"d{i}" for i in range(N)], vectors=vectors(N), metadatas=[{"half": i % 2} for i in range(N)])
    yield col
    col.close()


def brute_force(col, query: np.ndarray) -> list[str]:
    """Top K of every stored row with half = 1, in float64, ties by row id."""
    rowids, stored = col._store.vectors("text")
    records = col._store.by_rowids(rowids.tolist())
    query = query / np.linalg.norm(query)
    rows = sorted(
        (-float(v.astype(np.float64) @ query), r)
        for r, v in zip(rowids.tolist(), stored)
        if records[r].metadata.get("half") == 1
    )
    return [records[r].id for _, r in rows[:K]]


def coded(col) -> list:
    """The codes the index keeps now."""
    entries = filter_codes_cache._by_index.get(col._index.current(), {})
    return [e[3] for e in entries.values() if e[3] is not None]


@pytest.mark.parametrize("spec", ["flat", "hnsw:M=16,efc=40"])
def test_a_filter_asked_twice_is_coded_and_stays_exact(col, spec):
    col.build_index(spec)
    queries = np.random.default_rng(2).normal(size=(6, DIM)).astype(np.float32)
    hits = [h.id for h in col.search(vector=queries[0], k=K, where=WHERE)]
    assert hits == brute_force(col, queries[0]) and coded(col) == []  # seen once: scored directly
    for query in queries:
        assert [h.id for h in col.search(vector=query, k=K, where=WHERE)] == brute_force(col, query)
    assert len(coded(col)) == 1 and len(coded(col)[0].rowids) == N // 2


def test_codes_never_outlive_a_change(col):
    """After an add, an upsert and a delete (each twice asked, so coded again), the hits
    follow: a new row close to the query comes first, a deleted one is gone."""
    query = np.random.default_rng(3).normal(size=DIM).astype(np.float32)
    for _ in range(2):
        col.search(vector=query, k=K, where=WHERE)
    assert len(coded(col)) == 1
    steps = [
        lambda: col.add(ids=["near"], vectors=[query], metadatas=[{"half": 1}]),
        lambda: col.upsert(ids=["near"], vectors=[-query], metadatas=[{"half": 1}]),
        lambda: col.upsert(ids=["d1"], vectors=[query], metadatas=[{"half": 1}]),
        lambda: col.delete(["d1"]),
    ]
    firsts = ["near", None, "d1", None]
    for step, first in zip(steps, firsts):
        step()
        for _ in range(2):
            hits = [h.id for h in col.search(vector=query, k=K, where=WHERE)]
            assert hits == brute_force(col, query)
            assert first is None or hits[0] == first
        assert len(coded(col)) == 1


def test_arrays_that_can_change_or_are_small_are_not_coded(col):
    """A writable row array (not the filter cache's) could be edited under its codes;
    a small one is cheap to score directly; l2 scores are no dot products."""
    index = col._index.current()
    rowids = col._store.rowids(WHERE)
    query = np.ones((1, DIM), np.float32)
    writable = rowids.copy()
    for _ in range(3):
        assert filter_codes_cache.search(index, query, writable, K, "cosine") is None
        assert filter_codes_cache.search(index, query, rowids[:100], K, "cosine") is None
        assert filter_codes_cache.search(index, query, rowids, K, "l2") is None
    assert filter_codes_cache.search(index, query, rowids, K, "cosine") is None  # the first time
    assert filter_codes_cache.search(index, query, rowids, K, "cosine") is not None


def test_until_the_compiled_pass_is_loaded_filters_are_scored_directly(col, monkeypatch):
    """No search waits for numba: while its load is under way (here: never done), a filter
    asked again is scored directly, exactly, and nothing is coded."""
    monkeypatch.setattr(filter_codes_cache, "_kernel_loaded", threading.Event())
    monkeypatch.setattr(filter_codes_cache, "_kernel_asked", True)  # "a thread is loading it"
    query = np.random.default_rng(5).normal(size=DIM).astype(np.float32)
    for _ in range(3):
        assert [h.id for h in col.search(vector=query, k=K, where=WHERE)] == brute_force(col, query)
    assert coded(col) == []


def test_a_failed_load_of_the_compiled_pass_ends_every_wait(monkeypatch):
    """A kernel that cannot load (numba missing or broken) ends the wait with False,
    instead of leaving load_kernel(wait=None) waiting forever."""
    monkeypatch.setattr(filter_codes_cache, "_kernel_loaded", threading.Event())
    monkeypatch.setattr(filter_codes_cache, "_kernel_tried", threading.Event())
    monkeypatch.setattr(filter_codes_cache, "_kernel_asked", False)

    def broken():
        raise ImportError("no numba here")

    monkeypatch.setattr(filter_codes_cache, "_compile", broken)
    assert filter_codes_cache.load_kernel(wait=None) is False
