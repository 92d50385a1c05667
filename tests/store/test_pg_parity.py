"""The PostgreSQL backend answers as SQLite does: the same documents and the same query
give the same ids and the same scores (within 1e-5) for exact search, in every metric,
with and without a filter, and the stored vectors come back bit for bit."""

import numpy as np
import pytest

import embkit

from pg_fixtures import Backend

DOCS = {
    "argparse": "Parse command line arguments and options for a program.",
    "gzip": "Compress and decompress files in the gzip format.",
    "pool": "Run a function in parallel over many inputs with a pool of worker processes.",
    "csv": "Read and write comma separated value files.",
    "weather": "Tomorrow will be sunny with a light breeze.",
}


def pair(tmp_path, pg_server, **options):
    """The same empty collection on SQLite and on PostgreSQL."""
    return (embkit.create(tmp_path / "c", **options),
            embkit.create(Backend("postgres", server=pg_server)("parity"), **options))


def same_hits(a, b):
    assert [h.id for h in a] == [h.id for h in b]
    np.testing.assert_allclose([h.score for h in a], [h.score for h in b], rtol=0, atol=1e-5)
    assert [(h.text, h.metadata) for h in a] == [(h.text, h.metadata) for h in b]


@pytest.mark.parametrize("metric", ["cosine", "dot", "l2"])
def test_exact_search_gives_the_same_ids_and_scores(tmp_path, pg_server, metric):
    rng = np.random.default_rng(3)
    n, dim = 400, 24
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    metadatas = [{"group": i % 4, "name": f"doc {i}"} for i in range(n)]
    lite, pg = pair(tmp_path, pg_server, model=None, dim=dim, metric=metric)
    for col in (lite, pg):
        col.add([f"text {i}" for i in range(n)], ids=[f"d{i}" for i in range(n)], vectors=vectors,
                metadatas=metadatas)
    pg.build_index("flat")  # an exact scan in PostgreSQL (SQLite's `auto` is flat at this size)
    for q in rng.normal(size=(6, dim)).astype(np.float32):
        for where in (None, {"group": {"$in": [1, 3]}}):
            same_hits(lite.search(vector=q, k=15, where=where), pg.search(vector=q, k=15, where=where))
    np.testing.assert_array_equal(lite.table().vectors, pg.table().vectors)
    np.testing.assert_array_equal(lite.table().rowids, pg.table().rowids)
    lite.close()
    pg.close()


def test_the_real_model_gives_the_same_hits(tmp_path, pg_server, minilm):
    lite, pg = pair(tmp_path, pg_server)
    for col in (lite, pg):
        col.add(list(DOCS.values()), ids=list(DOCS), metadatas=[{"n": i} for i in range(len(DOCS))])
    for query in ("run work concurrently", "zip up a file", "what is the forecast"):
        same_hits(lite.search(query, k=5), pg.search(query, k=5))  # pgvector's HNSW: 5 vectors, all visited
        same_hits(lite.search(query, k=5, mode="hybrid"), pg.search(query, k=5, mode="hybrid"))
    where = {"n": {"$gte": 1}}
    same_hits(lite.search(like="gzip", k=3, where=where), pg.search(like="gzip", k=3, where=where))
    lite.close()
    pg.close()
