"""A PostgreSQL search is one round trip (counted on the wire by libpq's trace): dense,
filtered, keyword and hybrid alike, the filter compiled to SQL beside the vector
ordering; a filter matching 0.1% of the rows still returns k rows through pgvector's
iterative scans; an IVF index is retrained once its table has grown fourfold."""

import logging
import warnings

import numpy as np
import pytest

import embkit
from embkit.search.pipeline import Plan, retrieve
from embkit.search.query_vector import query_vector
from embkit.search.request import SearchRequest
from embkit.search.run import run_search
from embkit.search.sources import StoreSources

from pg_fixtures import Backend
from pg_wire import Wire

DOCS = {
    "argparse": "Parse command line arguments and options for a program.",
    "gzip": "Compress and decompress files in the gzip format.",
    "pool": "Run a function in parallel over many inputs with a pool of worker processes.",
    "csv": "Read and write comma separated value files.",
    "weather": "Tomorrow will be sunny with a light breeze.",
}


@pytest.fixture(scope="module")
def col(pg_server, minilm):
    c = embkit.create(Backend("postgres", server=pg_server)("trips"))
    c.add(list(DOCS.values()), ids=list(DOCS), metadatas=[{"n": i} for i in range(len(DOCS))])
    c.search("warm up", k=2, mode="hybrid", where={"n": 1})  # the pgvector version and spec are read once
    yield c
    c.close()


def step_by_step(req, parts):
    """The hits as the generic sources find them: row ids for the filter, then each
    retriever and the records apart (what a PostgreSQL search did before)."""
    vector, exclude = query_vector(req, parts.store, parts.space, parts.encoder_for)
    allow = parts.store.rowids(req.where) if req.where is not None else None
    return retrieve(req, Plan(vector, allow, exclude), StoreSources(parts, req))


@pytest.mark.parametrize("options, statements", [
    ({}, 2),  # the index's settings (SET LOCAL) and the search, in one pipeline
    ({"where": {"n": {"$gte": 2}}}, 2),
    ({"mode": "hybrid"}, 2),
    ({"mode": "hybrid", "where": {"n": {"$in": [1, 3]}, "nope": None}}, 2),
    ({"mode": "keyword", "where": {"n": {"$gte": 1}}}, 1),  # no vector: no settings
])
def test_a_search_is_one_round_trip(col, options, statements):
    req = SearchRequest("compress a file", k=3, **options).check(col.space)
    with Wire(col._store) as wire:
        found = run_search(req, col._search_parts())
    assert (wire.round_trips, wire.statements) == (1, statements), wire.texts()
    slow = step_by_step(req, col._search_parts())
    assert found.hits and [h.id for h in found.hits] == [h.id for h in slow]
    np.testing.assert_allclose([h.score for h in found.hits], [h.score for h in slow], rtol=0, atol=1e-5)
    assert [(h.dense_rank, h.keyword_rank) for h in found.hits] == [(h.dense_rank, h.keyword_rank) for h in slow]
    assert found.warnings == (["where.nope: no document has this field"] if "nope" in str(options) else [])
    with Wire(col._store) as wire, warnings.catch_warnings():  # through the collection: the same one round
        warnings.simplefilter("ignore")  # trip (the statement also reads the spaces a reembed replaced)
        hits = col.search("compress a file", k=3, **options)
    assert (wire.round_trips, wire.statements) == (1, statements), wire.texts()
    assert [h.id for h in hits] == [h.id for h in found.hits]


def test_context_is_one_round_trip(col):
    with Wire(col._store) as wire:
        ctx = col.context("compress a file", k=3, where={"n": {"$gte": 1}})
    assert wire.round_trips == 1, wire.texts()
    assert [p.id for p in ctx.passages] == [h.id for h in col.search("compress a file", k=3, mode="hybrid",
                                                                       where={"n": {"$gte": 1}})]


def scored(hits) -> list[tuple[str, float]]:
    return [(h.id, round(h.score, 5)) for h in hits]


def test_a_handle_open_before_another_switched_searches_the_new_space(pg_server, minilm):
    url = Backend("postgres", server=pg_server)("switch")
    with embkit.create(url, model="minilm") as c:
        c.add(list(DOCS.values()), ids=list(DOCS), metadatas=[{"n": i} for i in range(len(DOCS))])
    cases = [{}, {"where": {"n": {"$gte": 1}}}, {"mode": "keyword"}, {"mode": "hybrid", "where": {"n": {"$lte": 3}}}]
    before = embkit.open(url)  # a server's handle, say
    try:
        answers = [[scored(before.search("compress a file", k=3, **o)) for o in cases]]  # warm: none superseded
        for model, drop_old in (("glove-50d", False), ("minilm", True)):  # then text_v2 -> text_v3, text_v2 dropped
            with embkit.open(url) as other:  # another process switches the space
                other.reembed(model, drop_old=drop_old)
                expected = [scored(other.search("compress a file", k=3, **o)) for o in cases]
            answers.append([scored(before.search("compress a file", k=3, **o)) for o in cases])
            assert answers[-1] == expected, model
        assert answers[1][0] != answers[0][0] and answers[2][0] == answers[0][0]  # glove-50d's, then minilm's again
        with Wire(before._store) as wire:  # having followed, one round trip again
            before.search("compress a file", k=3, mode="hybrid")
        assert wire.round_trips == 1, wire.texts()
    finally:
        before.close()


def test_a_filter_matching_one_row_in_a_thousand_still_fills_k(pg_server, monkeypatch):
    rng = np.random.default_rng(5)
    n, dim = 5000, 16
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    rare = set(range(7, n, 1000))  # 5 of 5000
    url = Backend("postgres", server=pg_server)("rare")
    col = embkit.create(url, model=None, dim=dim)
    col.add([f"text {i}" for i in range(n)], ids=[f"d{i}" for i in range(n)], vectors=vectors,
            metadatas=[{"rare": i in rare} for i in range(n)])
    for walk in ("iterative scan", "exact fallback"):
        if walk == "exact fallback":  # the index walk gives up early: the same statement scans exactly
            col.close()
            monkeypatch.setenv("PGOPTIONS", "-c hnsw.max_scan_tuples=50 -c ivfflat.max_probes=1")
            col = embkit.open(url)
        for spec in ("hnsw:M=8,efc=16,ef=10", "ivf:nlist=32,nprobe=1"):
            col.build_index(spec)
            for q in rng.normal(size=(2, dim)).astype(np.float32):
                exact = sorted(rare, key=lambda i: -float(vectors[i] @ q / np.linalg.norm(vectors[i])))
                for k in (5, 10):
                    hits = col.search(vector=q, k=k, where={"rare": True})
                    assert [h.id for h in hits] == [f"d{i}" for i in exact], (walk, spec, k)
    col.close()


def test_ivf_lists_are_retrained_once_the_table_grew_fourfold(pg_server, caplog):
    rng = np.random.default_rng(6)
    url = Backend("postgres", server=pg_server)("ivf")
    col = embkit.create(url, model=None, dim=8)

    def add(count):
        start = col.count()
        col.add([f"t {i}" for i in range(start, start + count)], ids=[f"d{i}" for i in range(start, start + count)],
                vectors=rng.normal(size=(count, 8)).astype(np.float32))

    add(100)
    col.build_index("ivf:nlist=16,nprobe=4")
    assert col.info()["index"]["spec"] == "ivf:nlist=2,nprobe=4"  # 100 rows train 2 lists (39 points each)
    assert (col.info()["index"]["trained_on"], col.info()["index"]["retrains"]) == (100, 0)
    add(300)  # 400: fourfold, not beyond
    with caplog.at_level(logging.INFO, logger="embkit.index"):
        col.close()
        assert not caplog.records
        col = embkit.open(url)
        add(1)
        col.close()
    assert [r.getMessage() for r in caplog.records] == [
        "pgvector ivfflat index of space 'text' retrained: 401 vectors, 100 when its lists were trained"]
    col = embkit.open(url)
    info = col.info()["index"]
    assert (info["spec"], info["trained_on"], info["retrains"]) == ("ivf:nlist=10,nprobe=4", 401, 1)
    assert len(col.search(vector=rng.normal(size=8).astype(np.float32), k=5)) == 5
    col.close()
