"""`embkit serve postgresql://…?collection=docs` serves the collection as `docs`: its
searches equal the library's on the same URL (ids exactly, scores within 1e-5), and a
document added over HTTP is in PostgreSQL, where another process reads it."""

import numpy as np
import pytest

import embkit

from live_server import LiveServer, create_key
from pg_docs import MEMORY_QUERY, TEXTS, collection_url
from pg_server import PostgresServer, available

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

SECRET = "s3cret-pw"
QUERIES = [{"query": MEMORY_QUERY, "k": 3},
           {"query": "baking bread at home", "k": 5, "mode": "keyword"},
           {"query": "planets and water", "k": 4, "mode": "hybrid"},
           {"query": "programming", "k": 8, "where": {"year": {"$gte": 2020}}},
           {"like": "bread", "k": 3}]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    server = PostgresServer().start()
    url = collection_url(server, "served", password=SECRET)
    col = embkit.create(url)
    col.add([t for t, _ in TEXTS.values()], ids=list(TEXTS), metadatas=[m for _, m in TEXTS.values()])
    key = create_key(tmp / "keys.json", "admin")
    live = LiveServer([url, "--keys-file", str(tmp / "keys.json")], tmp / "server.log")
    try:
        with live.client(key) as client:
            yield server, col, client
    finally:
        assert live.stop() == 0
        col.close()
        server.stop()
    assert SECRET not in (tmp / "server.log").read_text()


def test_served_under_the_collection_name(served):
    server, _, client = served
    assert client.get("/collections").json()["collections"] == ["docs"]
    info = client.get("/collections/docs").json()
    assert info["path"] == f"postgresql://embkit@127.0.0.1:{server.port}/served?collection=docs"
    assert info["count"] == len(TEXTS)


@pytest.mark.parametrize("request_body", QUERIES, ids=[str(i) for i in range(len(QUERIES))])
def test_search_equals_the_library(served, request_body):
    _, col, client = served
    r = client.post("/collections/docs/search", json=request_body)
    assert r.status_code == 200, r.text
    body = dict(request_body)
    expected = col.search(body.pop("query", None), **body)
    got = r.json()["hits"]
    assert [h["id"] for h in got] == [h.id for h in expected]
    np.testing.assert_allclose([h["score"] for h in got], [h.score for h in expected], atol=1e-5)
    assert [(h["text"], h["metadata"]) for h in got] == [(h.text, h.metadata) for h in expected]


def test_add_over_http_lands_in_postgresql(served):
    server, col, client = served
    r = client.post("/collections/docs/add", json={"documents": [
        {"id": "coffee", "text": "Espresso is coffee brewed under pressure.", "metadata": {"topic": "food"}}]})
    assert r.status_code == 201, r.text
    rows = server.execute("SELECT d.id, d.text, d.metadata, vector_dims(v.embedding) FROM embkit_docs.docs d "
                          "JOIN embkit_docs.vec_text v ON v.doc = d.rowid WHERE d.id = 'coffee'", dbname="served")
    assert rows == [("coffee", "Espresso is coffee brewed under pressure.", {"topic": "food", "parent": "coffee"}, 384)]
    assert col.count() == len(TEXTS) + 1
    vector = col.embed(["Espresso is coffee brewed under pressure."])[0]
    stored = col.get(["coffee"], include_vectors=True)[0].vector
    np.testing.assert_allclose(stored, vector, atol=1e-5)  # the server's model is the library's
    got = client.post("/collections/docs/search", json={"query": "a strong coffee", "k": 1}).json()["hits"]
    assert got[0]["id"] == col.search("a strong coffee", k=1)[0].id == "coffee"


def test_two_workers_share_the_collection(served, tmp_path):
    """`--workers 2`: each process has its own connections; every write is seen by
    whichever process answers next (there is no in-process index to catch up)."""
    _, col, _ = served
    url = col.info()["path"]  # no password: trust authentication does not ask for one
    key = create_key(tmp_path / "keys.json", "write")
    live = LiveServer([url, "--workers", "2", "--keys-file", str(tmp_path / "keys.json")], tmp_path / "server.log")
    try:
        with live.client(key) as client:
            for i in range(6):
                doc = {"id": f"note{i}", "text": f"Note {i}: the kettle is on.", "metadata": {"n": i}}
                assert client.post("/collections/docs/add", json={"documents": [doc]}).status_code == 201
                assert client.get("/collections/docs").json()["count"] == col.count()
                got = client.post("/collections/docs/get", json={"ids": [f"note{i}"]}).json()["documents"]
                assert [d["metadata"] for d in got] == [{"n": i, "parent": f"note{i}"}]
    finally:
        assert live.stop() == 0
