"""The warm plain search in one function (search/warm_plain.py): the hits of
`Collection.search(vector=unit row, k, ef)` equal the general plain path's and the
pipeline's, field for field, whether warm_plain answered or handed over (None), and
every request it hands over gets the general path's answer or error."""

import numpy as np
import pytest

import embkit
from embkit.search import warm_plain as warm_module
from embkit.search.plain import plain_search
from embkit.search.request import SearchRequest

from test_plain import DIM, N, general, meta


@pytest.fixture(params=["flat", "hnsw:M=16,efc=100"])
def col(request, tmp_path):
    col = embkit.create(tmp_path / "c", model=None, dim=DIM)
    vectors = np.random.default_rng(1).normal(size=(N, DIM)).astype(np.float32)
    ids = [f"d{i}" for i in range(N)]
    ids[6], ids[9] = 'quo"te', "back\\slash"  # ids JSON escapes: their own-parent rows are decoded
    col.add(ids=ids, vectors=vectors, metadatas=[meta(i) for i in range(N)], texts=[f"text {i}" for i in range(N)])
    col.build_index(request.param)
    yield col
    col.close()


@pytest.fixture
def answered(monkeypatch):
    """How many searches warm_plain answered itself."""
    count = [0]
    real = warm_module.warm_plain

    def counted(*args):
        found = real(*args)
        count[0] += found is not None
        return found

    monkeypatch.setattr("embkit.collection.searching.warm_plain", counted)
    return count


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_warm_hits_equal_the_general_paths(col, answered):
    queries = _unit(np.random.default_rng(2).normal(size=(24, DIM)))
    col.delete(ids=[f"d{i}" for i in range(0, N, 5)])  # deleted rows never come back (a selector in FAISS)
    graph = col._index.current().kind == "hnsw"
    for _ in range(2):  # the second time the rows are kept (hit_rows)
        for i, q in enumerate(queries):
            options = {"k": 1 + i % 12} | ({"ef": 8 + i} if graph and i % 2 else {})
            req = SearchRequest(vector=q, **options).check(col.space)
            want = plain_search(req, col._search_parts())
            assert want == general(col, req)
            got = col.search(vector=q, **options)
            assert [tuple(h) for h in got] == [tuple(h) for h in want] and len(got) == options["k"]
            assert all(type(h.score) is float and type(h.dense_rank) is int for h in got)
            assert not any(h.id.startswith("d") and int(h.id[1:]) % 5 == 0 for h in got)
    assert answered[0] >= 2 * len(queries) - 1  # all but the first (the index loaded by it) answered warm
    every = col.search(vector=queries[0], k=N)  # k past the live rows: fewer hits, as the general path gives
    assert [tuple(h) for h in every] == [tuple(h) for h in general(col, SearchRequest(vector=queries[0], k=N)
                                                                    .check(col.space))]
    hit = next(h for h in every if h.id == "d1")
    assert (hit.parent, hit.source, hit.page, hit.start, hit.end, hit.text) == ("doc0", "a.pdf", 1, 1, 6, "text 1")
    by_id = {h.id: h for h in every}
    assert by_id['quo"te'].metadata == {"parent": 'quo"te'} and by_id["back\\slash"].parent == "back\\slash"
    assert by_id["d3"].metadata == {"parent": "d3"}
    assert by_id["d11"].metadata == {"tag": 11, "nested": {"x": [11, None]}, "parent": "d11"}


def test_each_hit_has_its_own_metadata(col):
    q = _unit(np.random.default_rng(4).normal(size=(1, DIM)))[0]
    first = col.search(vector=q, k=N)
    for hit in first:
        hit.metadata["changed"] = True
    again = col.search(vector=q, k=N)  # rows kept: the dicts are made anew
    assert [h.id for h in again] == [h.id for h in first] and not any("changed" in h.metadata for h in again)


def test_what_warm_plain_hands_over_gets_the_general_answer(col, answered):
    v = _unit(np.ones((1, DIM)))[0]
    col.search(vector=v, k=3)  # warm
    answered[0] = 0
    for options in ({"vector": v * 2}, {"vector": v.astype(np.float64)}, {"vector": list(map(float, v))},
                    {"vector": v, "k": 600}, {"vector": v, "rescore": 2},
                    {"vector": np.ascontiguousarray(np.stack([v, v])[:, ::1][0])}):
        req = SearchRequest(**options).check(col.space)
        assert [tuple(h) for h in col.search(**options)] == [tuple(h) for h in plain_search(req, col._search_parts())]
    assert answered[0] == 1  # only the last (a contiguous float32 unit row) was answered warm
    for options, message in (({"k": 0}, "k: must be an integer from 1 to"), ({"k": True}, "k: must be"),
                             ({"k": np.int64(3)}, "k: must be"),
                             ({"ef": True}, "ef: must be"), ({"ef": 0}, "ef: must be"),
                             ({"ef": 40_000}, "ef: must be an integer from 1 to 32768"),
                             ({"vector": v[:3]}, "vector: dimension 3"), ({"vector": v * np.nan}, "contains NaN"),
                             ({"vector": v * np.inf}, "vector"), ({"vector": v * 0}, "zero vector")):
        with pytest.raises(embkit.EmbkitError, match=message.replace("[", r"\[")):
            col.search(**{"vector": v, **options})
    assert answered[0] == 1
