"""Input a route does not read is refused through a real `embkit serve`: an unknown query
parameter on every route in the OpenAPI schema (the fast search path included), and a
body sent to a route that takes none (POST .../compact). Each gets a 422 whose one line
names what was sent and what the route takes, and changes nothing; the parameters the
web page and the README use still work."""

import pytest

import embkit

from live_server import served_client

TEXTS = {"bread": ("Knead the dough and let the bread rise for an hour.", {"topic": "food"}),
         "soup": ("A tomato soup simmers slowly with garlic and basil.", {"topic": "food"}),
         "moon": ("The moon orbits the earth every twenty-seven days.", {"topic": "space"}),
         "mars": ("Mars is a cold desert planet with a thin atmosphere.", {"topic": "space"})}
# a minimal sound body per POST route; any other route is sent without one
BODIES = {"/collections": {"name": "made"}, "/collections/{name}/add": {"documents": [{"id": "n", "text": "new"}]},
          "/collections/{name}/upsert": {"documents": [{"id": "n", "text": "new"}]},
          "/collections/{name}/get": {"ids": ["bread"]}, "/collections/{name}/delete": {"ids": ["bread"]},
          "/collections/{name}/search": {"query": "bread"}, "/collections/{name}/context": {"question": "bread"},
          "/collections/{name}/embed": {"texts": ["a"]}, "/collections/{name}/similarity": {"a": ["a"], "b": ["b"]},
          "/v1/embeddings": {"model": "minilm", "input": "hello"}, "/v1/rerank": {"query": "q", "documents": ["a"]}}


@pytest.fixture(scope="module")
def served(tmp_path_factory, minilm):
    work = tmp_path_factory.mktemp("strict")
    (work / "root").mkdir()
    with embkit.create(work / "docs") as col:
        col.add([t for t, _ in TEXTS.values()], ids=list(TEXTS), metadatas=[m for _, m in TEXTS.values()])
    with served_client([str(work / "docs"), "--root", str(work / "root"), "--no-auth"], work / "server.log") as client:
        yield client


def _count(client) -> int:
    return client.get("/collections/docs").json()["count"]


def test_unknown_query_parameter_is_refused_on_every_route(served):
    """Every route the schema lists, with its own parameters named in the message; the
    collection is as it was after all of them (none of the writes ran)."""
    before = _count(served)
    routes = [(method.upper(), path, [p["name"] for p in op.get("parameters", []) if p["in"] == "query"])
              for path, ops in served.get("/openapi.json").json()["paths"].items() for method, op in ops.items()]
    assert len(routes) > 30
    for method, path, takes in routes:
        url = path.replace("{name}", "docs").replace("{doc_id}", "bread").replace("{model_id}", "minilm")
        body = BODIES.get(path) if method == "POST" else None
        response = served.request(method, url, params={"limt": "5"}, json=body)
        assert response.status_code in (400, 422), (method, path, response.status_code, response.text[:200])
        error = response.json()["error"]
        assert error["message"] == (f"limt: unknown query parameter of {method} {path} (allowed: "
                                    f"{', '.join(takes) if takes else 'none'}), got \"5\""), (method, path)
    assert _count(served) == before
    assert served.get("/collections").json()["collections"] == ["docs"]  # not created either


def test_misspelt_map_option_names_the_accepted_ones(served):
    response = served.get("/collections/docs/map", params={"method": "pca", "colour_by": "topic"})
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "invalid_request", "request_id": response.headers["x-request-id"],
        "message": ('colour_by: unknown query parameter of GET /collections/{name}/map (allowed: method, color_by, '
                    'unit), got "topic"')}


def test_unknown_query_on_a_write_changes_nothing(served):
    """`?upsert=true` is not how an add upserts: refused before anything is embedded or written."""
    response = served.post("/collections/docs/add", params={"upsert": "true"},
                           json={"documents": [{"id": "bread", "text": "Rye bread is dense."}]})
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("upsert: unknown query parameter of POST ")
    assert served.get("/collections/docs/documents/bread").json()["text"] == TEXTS["bread"][0]


def test_unknown_query_on_the_fast_search_path_is_refused(served):
    """A search by vector is answered on the event loop, before FastAPI: a query string
    sends it to the route, which refuses it like any other."""
    vector = served.post("/collections/docs/embed", json={"texts": ["bread"]}).json()["vectors"][0]
    fine = served.post("/collections/docs/search", json={"vector": vector, "k": 2})
    assert fine.status_code == 200 and [h["id"] for h in fine.json()["hits"]][0] == "bread"
    response = served.post("/collections/docs/search", params={"k": "1"}, json={"vector": vector, "k": 2})
    assert response.status_code == 422
    assert response.json()["error"]["message"] == ('k: unknown query parameter of POST /collections/{name}/search '
                                                   '(allowed: none), got "1"')


def test_openai_route_refuses_unknown_query_in_openai_shape(served):
    response = served.post("/v1/embeddings", params={"api-version": "2024-02-01"},
                           json={"model": "minilm", "input": "hello"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == ('api-version: unknown query parameter of POST /v1/embeddings (allowed: none), '
                                'got "2024-02-01"')
    assert error["type"] == "invalid_request_error"


def test_query_parameters_the_page_and_readme_use_still_work(served):
    mapped = served.get("/collections/docs/map", params={"method": "pca", "color_by": "topic"})
    assert mapped.status_code == 200, mapped.text
    assert {p["id"]: p["color"] for p in mapped.json()["points"]} == {i: m["topic"] for i, (_, m) in TEXTS.items()}
    viewed = served.get("/collections/docs/view", params={"id": "moon"})
    assert viewed.status_code == 200 and viewed.json()["text"] == TEXTS["moon"][0]
    one = served.get("/collections/docs/documents/mars", params={"include_vectors": "true"})
    assert one.status_code == 200 and len(one.json()["vector"]) == 384
    assert served.get("/collections/docs/check", params={"repair": "false"}).json()["ok"] is True
    assert served.post("/collections/docs/compact", params={"full": "true"}).status_code == 200


def test_compact_refuses_a_body(served):
    """Its one option is the query's `full`; a body saying `full` would otherwise be a
    compaction that is not the one asked for."""
    response = served.post("/collections/docs/compact", json={"full": True})
    assert response.status_code == 422
    assert response.json()["error"]["message"] == ("full: POST /collections/{name}/compact takes no body (its "
                                                   "options are query parameters: full)")
    bad = served.post("/collections/docs/compact", content=b"[1, 2]", headers={"content-type": "application/json"})
    assert bad.status_code == 422 and bad.json()["error"]["message"].startswith("body: POST ")
    assert served.post("/collections/docs/compact", json={}).status_code == 200  # nothing said: nothing ignored
    assert served.post("/collections/docs/compact").status_code == 200


def test_body_on_a_delete_that_takes_none_changes_nothing(served):
    response = served.request("DELETE", "/collections/docs/documents/soup", json={"ids": ["moon"]})
    assert response.status_code == 422
    assert response.json()["error"]["message"] == ("ids: DELETE /collections/{name}/documents/{doc_id} takes no "
                                                   "body")
    assert served.get("/collections/docs/documents/soup").status_code == 200
    assert served.get("/collections/docs/documents/moon").status_code == 200


def test_a_query_parameter_given_twice_is_refused(served):
    """Only the last value was read: `?full=true&full=false` compacted without full."""
    response = served.post("/collections/docs/compact?full=true&full=false")
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "full: given 2 times; give it once"
    response = served.get("/collections/docs/map?method=pca&color_by=topic&method=umap")
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "method: given 2 times; give it once"
