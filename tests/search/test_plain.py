"""The plain dense search (search/plain.py) returns the general pipeline's hits for the
same request, field for field (ids, float scores, text, metadata, dense score and rank,
chunk fields), on flat and HNSW indexes, after deletes, with index knobs; and only a
request by vector with nothing but k and index knobs takes it."""

import numpy as np
import pytest

import embkit
from embkit.ingest.vectors import stored_form
from embkit.search.pipeline import Plan, retrieve
from embkit.search.plain import is_plain, plain_search
from embkit.search.request import SearchRequest
from embkit.search.sources import StoreSources

N, DIM = 400, 8


def meta(i: int) -> dict:
    if i % 3 == 0:
        return {}
    if i % 3 == 1:
        return {"parent": f"doc{i // 10}", "source": "a.pdf", "page": i % 7, "start": i, "end": i + 5}
    return {"tag": i, "nested": {"x": [i, None]}}


@pytest.fixture(params=["flat", "hnsw:M=16,efc=100"])
def col(request, tmp_path):
    col = embkit.create(tmp_path / "c", model=None, dim=DIM)
    vectors = np.random.default_rng(1).normal(size=(N, DIM)).astype(np.float32)
    col.add(ids=[f"d{i}" for i in range(N)], vectors=vectors, metadatas=[meta(i) for i in range(N)],
            texts=[f"text {i}" for i in range(N)])
    col.build_index(request.param)
    yield col
    col.close()


def general(col, req: SearchRequest):
    """The hits of the general pipeline for a checked request."""
    parts = col._search_parts()
    q = stored_form(req.vector, parts.space.metric, "vector")
    return retrieve(req, Plan(lambda: q, None, frozenset()), StoreSources(parts, req))


def test_plain_hits_equal_the_pipelines(col):
    queries = np.random.default_rng(2).normal(size=(20, DIM)).astype(np.float32)
    col.delete(ids=[f"d{i}" for i in range(0, N, 5)])  # deleted rows never come back
    graph = col._index.current().kind == "hnsw"
    for i, q in enumerate(queries):
        options = {"k": 1 + i % 12} | ({"ef": 8 + i} if graph and i % 2 else {})
        req = SearchRequest(vector=q, **options).check(col.space)
        assert is_plain(req)
        plain = plain_search(req, col._search_parts())
        assert plain == general(col, req) and len(plain) == options["k"]
        assert [tuple(h) for h in plain] == [tuple(h) for h in col.search(vector=q, **options)]
        assert all(type(h.score) is float and type(h.dense_rank) is int for h in plain)
        assert not any(int(h.id[1:]) % 5 == 0 for h in plain)
    every = plain_search(SearchRequest(vector=queries[0], k=N).check(col.space), col._search_parts())
    hit = next(h for h in every if h.id == "d1")
    assert (hit.parent, hit.source, hit.page, hit.start, hit.end, hit.text) == ("doc0", "a.pdf", 1, 1, 6, "text 1")


def test_only_plain_requests_take_the_short_path():
    v = np.ones(DIM, np.float32)
    assert is_plain(SearchRequest(vector=v, k=3, ef=20, nprobe=2, rescore=2, space="s", model="none"))
    for other in ({"where": {"a": 1}}, {"mmr": 0.5}, {"rerank": 5}, {"documents": True}, {"dims": 4}):
        assert not is_plain(SearchRequest(vector=v, **other))
    assert not is_plain(SearchRequest(query="text"))
    assert not is_plain(SearchRequest(like="d1"))
