"""pgvector as a PostgreSQL collection's index: HNSW recall against exact search, `ef`
per call, filters that still fill k, the specs pgvector builds and those it refuses
(changing nothing), and writes seen by the next search."""

import numpy as np
import pytest

import embkit
from embkit import EmbkitError
from embkit.search import dense

from pg_fixtures import Backend

DIM = 24
N = 4000


def unit(rng, n):
    x = rng.normal(size=(n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def data(pg_server):
    rng = np.random.default_rng(21)
    vectors = unit(rng, N)
    col = embkit.create(Backend("postgres", server=pg_server)("recall"), model=None, dim=DIM)
    col.add(ids=[f"d{i}" for i in range(N)], vectors=vectors, metadatas=[{"bucket": i % 100} for i in range(N)])
    col.build_index("hnsw:M=16,efc=64")
    queries = unit(np.random.default_rng(22), 50)
    yield col, vectors, queries
    col.close()


def truth(vectors, q, k, rows=None):
    rows = np.arange(len(vectors)) if rows is None else rows
    return rows[np.argsort(-(vectors[rows] @ q), kind="stable")[:k]].tolist()


def recall(col, vectors, queries, k=10, where=None, rows=None, **params):
    found = []
    for q in queries:
        got = [int(h.id[1:]) for h in col.search(vector=q, k=k, where=where, **params)]
        found.append(len(set(got) & set(truth(vectors, q, k, rows))) / k)
    return float(np.mean(found))


def test_hnsw_recall_against_exact_search(data):
    col, vectors, queries = data
    assert col.info()["index"]["spec"] == "hnsw:M=16,efc=64,ef=128"  # ef: the spec default
    assert recall(col, vectors, queries) >= 0.95


def test_ef_is_per_call(data):
    col, vectors, queries = data
    narrow, wide = recall(col, vectors, queries, k=10, ef=10), recall(col, vectors, queries, k=10, ef=400)
    assert narrow < wide and wide >= 0.99  # the beam reaches the database on each call
    assert col.info()["index"]["spec"] == "hnsw:M=16,efc=64,ef=128"  # and only for that call
    with pytest.raises(EmbkitError, match="nprobe: not a search parameter of the hnsw index"):
        col.search(vector=queries[0], k=3, nprobe=4)
    with pytest.raises(EmbkitError, match=r"^ef: .*\b0\b"):  # refused by name, with the value given
        col.search(vector=queries[0], k=3, ef=0)


def test_k_beyond_the_beam_is_filled(data):
    col, vectors, queries = data
    hits = col.search(vector=queries[0], k=300, ef=10)
    scores = [h.score for h in hits]
    assert len(hits) == 300 and len({h.id for h in hits}) == 300 and scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("share", [0.5, 0.1, 0.01])
def test_filters_fill_k_through_the_index(data, share, monkeypatch):
    """The index path forced (no exact search for small filters): pgvector's iterative
    scan keeps going until k rows pass the filter."""
    monkeypatch.setattr(dense, "EXACT_FILTER_LIMIT", 0)
    monkeypatch.setattr(dense, "EXACT_FILTER_SHARE", 0.0)
    col, vectors, queries = data
    limit = int(100 * share)
    rows = np.flatnonzero(np.arange(N) % 100 < limit)
    where = {"bucket": {"$lt": limit}}
    allow, index = col._store.rowids(where), col._index.current()
    for q in queries[:10]:
        hits = col.search(vector=q, k=10, where=where)
        assert len(hits) == 10 and all(h.metadata["bucket"] < limit for h in hits)
        found, _ = index.search(q[None], 10, allow=allow)  # the index alone, no exact fallback
        assert (found >= 0).all() and set(found[0].tolist()) <= set(allow.tolist())
    assert recall(col, vectors, queries[:20], where=where, rows=rows) >= 0.95


def test_specs_pgvector_builds_and_refuses(pg_server):
    rng = np.random.default_rng(5)
    vectors = unit(rng, 600)
    col = embkit.create(Backend("postgres", server=pg_server)("specs"), model=None, dim=DIM)
    col.add(ids=[f"d{i}" for i in range(600)], vectors=vectors)
    info = col.build_index("ivf:nlist=64,nprobe=64")
    assert info["kind"] == "ivf" and info["params"]["nlist"] == 600 // 39  # clamped to the data, as FAISS's
    assert recall(col, vectors, vectors[:20]) == 1.0  # every list probed: exact
    assert col.build_index("flat")["bytes"] == 0  # no index: exact scans
    assert recall(col, vectors, vectors[:20]) == 1.0
    before = {key: value for key, value in col.info().items() if key != "bytes"}  # autovacuum may add a map
    for spec, message in [("sq8", "supports hnsw, ivf, flat"), ("ivfpq", "supports hnsw, ivf, flat"),
                          ("hnsw:M=200,efc=400", "M up to 100"), ("hnsw:M=16,efc=16", "efc >= 2 x M"),
                          ("ivf:nlist=40000", "nlist up to 32768"), ("hnsw:M=0", "outside")]:
        with pytest.raises(EmbkitError, match=message):
            col.build_index(spec)
    with pytest.raises(EmbkitError, match="memory_budget: not used"):
        col.build_index("auto", memory_budget="1MB")
    assert {key: value for key, value in col.info().items() if key != "bytes"} == before
    assert col.build_index("auto")["spec"] == "hnsw:M=16,efc=64,ef=40"
    col.close()


def test_writes_are_seen_by_the_next_search(pg_server):
    rng = np.random.default_rng(6)
    vectors = unit(rng, 500)
    col = embkit.create(Backend("postgres", server=pg_server)("writes"), model=None, dim=DIM)
    col.add(ids=[f"d{i}" for i in range(500)], vectors=vectors)
    fresh = unit(rng, 5)
    col.add(ids=[f"new{i}" for i in range(5)], vectors=fresh)
    assert [col.search(vector=v, k=1)[0].id for v in fresh] == [f"new{i}" for i in range(5)]
    col.upsert(ids=["d7"], vectors=-vectors[9])
    assert col.search(vector=-vectors[9], k=1)[0].id == "d7"
    assert "d7" not in {h.id for h in col.search(vector=vectors[7], k=5)}
    col.delete([f"d{i}" for i in range(0, 500, 2)])
    for i in range(0, 500, 50):
        hits = col.search(vector=vectors[i], k=10)
        assert len(hits) == 10 and not any(int(h.id[1:]) % 2 == 0 for h in hits if h.id.startswith("d"))
    col.close()
