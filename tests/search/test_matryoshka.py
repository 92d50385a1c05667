"""Matryoshka search: candidates from the first d dimensions (exactly, or through an
index built on the truncated view), rescored with the full vectors."""

import numpy as np
import pytest

import embkit


@pytest.fixture()
def located(backend):
    """(collection, its unit vectors, its location) on each store backend: the view's
    index is embkit's own (FAISS) over the store's vectors, PostgreSQL's too."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 64)).astype(np.float32)
    x[:, :16] *= 4  # most of the signal in the first 16 dimensions, as Matryoshka training arranges
    location = backend("c")
    col = embkit.create(location, model=None, dim=64)
    col.add(vectors=x, ids=[f"d{i}" for i in range(len(x))])
    yield col, x / np.linalg.norm(x, axis=1, keepdims=True), location
    col.close()


@pytest.fixture()
def col(located):
    return located[:2]


sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # nothing backend-specific


def reference(x, q, dims, k, rescore):
    """Numpy brute force: the first `dims` columns, renormalized, ranked by cosine; the
    best k·rescore of them re-ranked by the full vectors, best k kept (rescore=1: the
    truncated ranking as it is)."""
    def unit(v):
        return v / np.linalg.norm(v, axis=-1, keepdims=True)

    short = unit(x[:, :dims].astype(np.float64)) @ unit(q[0, :dims].astype(np.float64))
    candidates = np.argsort(-short, kind="stable")[:k * rescore]
    if rescore == 1:
        return [f"d{i}" for i in candidates]
    full = x[candidates].astype(np.float64) @ q[0].astype(np.float64)
    return [f"d{i}" for i in candidates[np.argsort(-full, kind="stable")[:k]]]


@pytest.mark.parametrize("rescore", [1, 4])
def test_truncated_search_equals_the_exact_two_stage_reference(col, rescore):
    col, x = col
    rng = np.random.default_rng(1)
    for q in rng.normal(size=(20, 64)).astype(np.float32):
        q = q / np.linalg.norm(q)
        hits = col.search(vector=q, k=10, dims=16, rescore=rescore)
        assert [h.id for h in hits] == reference(x, q[None], 16, 10, rescore)


def test_rescored_scores_are_full_dimension_cosines(col):
    col, x = col
    q = x[7]
    hits = col.search(vector=q, k=5, dims=8)
    assert hits[0].id == "d7"
    for h in hits:
        assert abs(h.score - float(x[int(h.id[1:])] @ q)) < 1e-5


def test_an_index_on_the_view_follows_writes_and_persists(located):
    col, x, location = located
    info = col.build_index("hnsw:M=16,efc=100,ef=200", dims=16)
    assert info["spec"].startswith("hnsw:M=16") and info["current"] and info["persisted"]
    q = x[42]
    assert col.search(vector=q, k=1, dims=16)[0].id == "d42"
    col.delete(["d42"])
    col.add(vectors=x[42:43] * 1.0, ids=["again"])
    assert col.search(vector=q, k=1, dims=16)[0].id == "again"
    col.close()
    assert (col.path / "index" / "text@16").is_dir()
    reopened = embkit.open(location)
    assert reopened.search(vector=q, k=1, dims=16)[0].id == "again"
    assert reopened.search(vector=q, k=1)[0].id == "again"  # the full index was not disturbed
    reopened.close()


@sqlite_only
@pytest.mark.parametrize("dims", [0, 65, 2.5, True])
def test_dims_outside_the_space_are_refused(col, dims):
    col, x = col
    with pytest.raises(embkit.EmbkitError, match="dims: must be an integer from 1 to 64"):
        col.search(vector=x[0], k=3, dims=dims)


@sqlite_only
def test_full_dims_is_the_plain_search(col):
    col, x = col
    assert [h.id for h in col.search(vector=x[3], k=5, dims=64)] == [h.id for h in col.search(vector=x[3], k=5)]
