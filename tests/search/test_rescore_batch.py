"""Batched rescoring (search/rescore.py) gives each query exactly what dense_search gives
it alone: the same row ids and the same float32 scores, for every quantized kind."""

import numpy as np
import pytest

import embkit
from embkit.search.dense import dense_search
from embkit.search.rescore import dense_search_batch

DIM = 24


def _collection(tmp_path, spec: str, n: int = 400):
    rng = np.random.default_rng(7)
    col = embkit.create(tmp_path / "c", model=None, dim=DIM, metric="cosine")
    col.add(ids=[f"d{i}" for i in range(n)], vectors=rng.standard_normal((n, DIM)).astype(np.float32))
    col.build_index(spec)
    queries = rng.standard_normal((12, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return col, col._index.current(), queries


@pytest.mark.parametrize("spec", ["sq8", "binary", "flat"])
def test_a_batch_is_rescored_as_each_query_alone(tmp_path, spec):
    col, index, queries = _collection(tmp_path, spec)
    fetch = lambda rowids: col._store.vectors(col.space.name, rowids)  # noqa: E731
    ids, scores = dense_search_batch(index, queries, 10, fetch, rescore=3)
    assert ids.shape == scores.shape == (12, 10)
    for i, query in enumerate(queries):
        alone_ids, alone_scores = dense_search(index, query, 10, fetch, rescore=3)
        assert ids[i].tolist() == alone_ids.tolist()
        assert scores[i].tobytes() == alone_scores.astype(np.float32).tobytes()
    col.close()


def test_fewer_rows_than_k_are_padded(tmp_path):
    col, index, queries = _collection(tmp_path, "sq8", n=6)
    fetch = lambda rowids: col._store.vectors(col.space.name, rowids)  # noqa: E731
    ids, scores = dense_search_batch(index, queries[:2], 10, fetch)
    for i, query in enumerate(queries[:2]):
        alone_ids, alone_scores = dense_search(index, query, 10, fetch)
        assert ids[i, :6].tolist() == alone_ids.tolist() and ids[i, 6:].tolist() == [-1] * 4
        assert scores[i, :6].tobytes() == alone_scores.tobytes() and np.isneginf(scores[i, 6:]).all()
    col.close()
