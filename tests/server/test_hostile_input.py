"""Hostile input through a real `embkit serve` (issue 19, items 2, 3 and 8): JSON bodies
with lone-surrogate escapes, metadata nested past the limit and an oversized document
get a 422 naming the field, write nothing, and leave the client's keep-alive connection
working; a document already stored with metadata too deep to serialize (an older
collection) is served with a marker instead of turning every read that meets it into a 500."""

import base64

import pytest

import embkit
from embkit.server.encoding import UNSERVABLE
from embkit.store import Record

from live_server import LiveServer

TEXTS = {"bread": ("Knead the dough and let the bread rise for an hour.", {"topic": "food"}),
         "soup": ("A tomato soup simmers slowly with garlic and basil.", {"topic": "food"}),
         "moon": ("The moon orbits the earth every twenty-seven days.", {"topic": "space"})}
ESC = "\\ud800"  # as a client's JSON has it: an escape for a lone surrogate
POISON_DEPTH = 300  # deeper than pydantic serializes (254)


def nested(levels: int) -> dict:
    root = node = {}
    for _ in range(levels - 1):
        node["a"] = {}
        node = node["a"]
    return root


def nested_json(levels: int) -> str:
    return '{"a": ' * (levels - 1) + "{}" + "}" * (levels - 1)


@pytest.fixture(scope="module")
def served(tmp_path_factory, minilm):
    work = tmp_path_factory.mktemp("hostile")
    with embkit.create(work / "docs") as col:
        col.add([t for t, _ in TEXTS.values()], ids=list(TEXTS), metadatas=[m for _, m in TEXTS.values()])
    with embkit.create(work / "old") as old:  # as an older embkit left it: written past today's checks
        old.add([t for t, _ in TEXTS.values()], ids=list(TEXTS), metadatas=[m for _, m in TEXTS.values()])
        vector = old.embed(["The bread dough rises overnight."])
        old._store.write([Record("poison", "The bread dough rises overnight.",
                                              {"deep": nested(POISON_DEPTH)})], "text", vector, upsert=False)
    server = LiveServer([str(work / "docs"), str(work / "old"), "--no-auth", "--max-document-bytes", "1000"],
                        work / "server.log", env={"HF_HUB_OFFLINE": "1"})
    try:
        with server.client() as client:
            yield client, work
    finally:
        assert server.stop() == 0


def _port(response) -> int:
    """The client's own port: the same one means the same keep-alive connection."""
    return response.extensions["network_stream"].get_extra_info("client_addr")[1]


REQUESTS = [  # (route, raw JSON body, field the error names)
    ("add", '{"documents": [{"id": "x", "text": "a ' + ESC + ' b"}]}', "texts[0]"),
    ("add", '{"documents": [{"id": "' + ESC + '", "text": "fine"}]}', "ids[0]"),
    ("add", '{"documents": [{"text": "fine", "metadata": {"' + ESC + '": 1}}]}', "metadatas[0] (a key)"),
    ("add", '{"documents": [{"text": "fine", "metadata": {"k": "' + ESC + '"}}]}', "metadatas[0].k"),
    ("upsert", '{"documents": [{"id": "bread", "text": "' + ESC + '"}]}', "texts[0]"),
    ("search", '{"query": "bread ' + ESC + '"}', "query"),
    ("search", '{"query": "' + ESC + '", "mode": "keyword"}', "query"),
    ("search", '{"query": "' + ESC + '", "mode": "hybrid"}', "query"),
    ("search", '{"like": "' + ESC + '"}', "like"),
    ("search", '{"query": "bread", "where": {"topic": "' + ESC + '"}}', "where.topic"),
    ("get", '{"ids": ["bread", "' + ESC + '"]}', "ids[1]"),
    ("delete", '{"ids": ["' + ESC + '"]}', "ids[0]"),
    ("delete", '{"where": {"topic": "' + ESC + '"}}', "where.topic"),
    ("embed", '{"texts": ["' + ESC + '"]}', "texts[0]"),
    ("similarity", '{"a": ["fine"], "b": ["' + ESC + '"]}', "b[0]"),
    ("context", '{"question": "' + ESC + '"}', "question"),
]


@pytest.mark.parametrize("route,body,field", REQUESTS, ids=[f"{r}-{f}" for r, _, f in REQUESTS])
def test_lone_surrogates_are_a_422_and_the_connection_lives_on(served, route, body, field):
    client, _ = served
    before = client.get("/health")
    r = client.post(f"/collections/docs/{route}", content=body.encode(), headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"].startswith(f"{field}: not valid Unicode (lone surrogate at position ")
    after = client.get("/health")  # the same keep-alive connection still answers
    assert after.status_code == 200 and _port(after) == _port(before)
    assert client.get("/collections/docs").json()["count"] == 3


def test_a_body_that_is_not_json_is_a_422_naming_the_body(served):
    """The character offset pydantic puts in the error's location read as a field: "17: JSON decode error"."""
    client, _ = served
    json_type = {"content-type": "application/json"}
    for body, message in ((b'{"query": "bread"', "body: not valid JSON (Expecting ',' delimiter at character 17)"),
                          (b'{"query": "bread",}', "body: not valid JSON (Expecting property name enclosed in double "
                                                   "quotes at character 18)")):
        r = client.post("/collections/docs/search", content=body, headers=json_type)
        assert r.status_code == 422 and r.json()["error"]["message"] == message, r.text
    r = client.post("/v1/embeddings", content=b'{"model": "minilm", "input": ', headers=json_type)
    assert r.status_code == 400 and r.json()["error"]["message"].startswith("body: not valid JSON ("), r.text


def test_an_uploaded_files_out_of_range_number_is_a_422(served):
    """1e400 in an uploaded JSONL line reads as infinity, which JSON cannot store: it was a 500."""
    client, _ = served
    line = base64.b64encode(b'{"id": "inf", "text": "fine", "score": 1e400}\n').decode()
    r = client.post("/collections/docs/files", json={"folder": "up", "files": [{"path": "x.jsonl", "data": line}]})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"] == ("up/x.jsonl:1: metadata: not JSON-serializable (Out of range float "
                                            "values are not JSON compliant)")
    assert client.get("/collections/docs").json()["count"] == 3


def test_metadata_past_the_limits_is_a_422(served):
    client, _ = served
    for levels in (33, 900):  # 900 deep was accepted (201) and then broke every read
        body = '{"documents": [{"id": "deep", "text": "fine", "metadata": ' + nested_json(levels) + "}]}"
        r = client.post("/collections/docs/add", content=body.encode(), headers={"content-type": "application/json"})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["message"] == ("metadatas[0]: nested more than 32 levels deep "
                                                "(limit max_metadata_depth)")
    r = client.post("/collections/docs/add", json={"documents": [{"id": "big", "text": "fine",
                                                                  "metadata": {"blob": "x" * 70_000}}]})
    assert r.status_code == 422
    assert r.json()["error"]["message"] == ("metadatas[0]: 70012 bytes of JSON exceeds the limit of 65536 "
                                            "(limit max_metadata_bytes)")
    r = client.post("/collections/docs/add", json={"documents": [{"id": "ok", "text": "fine",
                                                                  "metadata": nested(32)}]})
    assert r.status_code == 201
    assert client.get("/collections/docs/documents/ok").json()["metadata"] == {**nested(32), "parent": "ok"}
    assert client.post("/collections/docs/delete", json={"ids": ["ok"]}).json() == {"deleted": 1, "documents": 1}
    assert client.post("/collections/docs/get", json={"ids": ["deep", "big"]}).json() == {"documents": []}


def test_document_size_limit_is_the_servers_setting(served):
    """`serve --max-document-bytes 1000`: the same message as the Python door."""
    client, _ = served
    r = client.post("/collections/docs/add", json={"documents": [{"id": "s", "text": "short"},
                                                                 {"id": "long", "text": "word " * 400}]})
    assert r.status_code == 422
    assert r.json()["error"]["message"] == ("texts[1]: document of 2000 bytes exceeds the limit of "
                                            "1000 bytes (max_document_bytes)")
    assert client.post("/collections/docs/get", json={"ids": ["s", "long"]}).json() == {"documents": []}


def test_a_poison_document_in_the_store_breaks_no_read(served):
    client, _ = served
    marker = {UNSERVABLE: "metadata: nested more than 32 levels deep (limit max_metadata_depth)"}
    for mode in ("dense", "keyword", "hybrid"):
        r = client.post("/collections/old/search", json={"query": "bread dough", "k": 4, "mode": mode})
        assert r.status_code == 200, r.text
        hits = {h["id"]: h["metadata"] for h in r.json()["hits"]}
        assert hits["poison"] == marker and hits["bread"] == {"topic": "food", "parent": "bread"}
    r = client.post("/collections/old/search", json={"query": "the moon", "k": 1})
    assert r.status_code == 200 and [h["id"] for h in r.json()["hits"]] == ["moon"]
    r = client.post("/collections/old/get", json={"ids": ["poison", "moon"]})
    assert r.status_code == 200
    assert [(d["id"], d["metadata"]) for d in r.json()["documents"]] == \
        [("poison", marker), ("moon", {"topic": "space", "parent": "moon"})]
    one = client.get("/collections/old/documents/poison")
    assert one.status_code == 200 and one.json() == {"id": "poison", "text": "The bread dough rises overnight.",
                                                     "metadata": marker}
    r = client.post("/collections/old/context", json={"question": "bread dough", "budget_tokens": 200})
    assert r.status_code == 200 and "bread" in r.json()["text"]
    r = client.post("/collections/old/search", json={"like": "bread", "k": 3})  # the fast path
    assert r.status_code == 200 and {h["id"] for h in r.json()["hits"]} >= {"poison"}
    for route, body in (("outliers", {"top": 20, "k": 2}), ("duplicates", {"threshold": 0.5}),
                        ("dedupe", {"threshold": 0.5})):  # a dry run
        r = client.post(f"/collections/old/{route}", json=body)
        assert r.status_code == 200, (route, r.text)
    found = client.post("/collections/old/outliers", json={"top": 20, "k": 2}).json()["results"]
    assert {o["id"]: o["metadata"] for o in found}["poison"] == marker  # every document, the poison one marked
    points = client.get("/collections/old/map", params={"method": "pca", "color_by": "deep"})
    assert points.status_code == 200
    assert {p["id"]: p["color"] for p in points.json()["points"]}["poison"] is None


def _python_error(call) -> str:
    with pytest.raises(embkit.EmbkitError) as e:
        call()
    return str(e.value)


# (route, body, what the Python door does with the same values): pydantic's lax mode took
# true as 1, "3" as 3 and "yes" as true, so HTTP searched, clustered and deleted where
# Python refused. Now both refuse with the library's one line.
TYPED = [
    ("search", {"query": "bread", "k": True}, lambda col: col.search("bread", k=True)),
    ("search", {"query": "bread", "k": "3"}, lambda col: col.search("bread", k="3")),
    ("search", {"query": "bread", "documents": "yes"}, lambda col: col.search("bread", documents="yes")),
    ("search", {"query": "bread", "ef": "3"}, lambda col: col.search("bread", ef="3")),
    ("search", {"query": "bread", "mmr": True}, lambda col: col.search("bread", mmr=True)),
    ("cluster", {"k": "2"}, lambda col: col.cluster(k="2")),
    ("cluster", {"k": True}, lambda col: col.cluster(k=True)),
    ("outliers", {"top": "2", "k": 1}, lambda col: col.outliers(top="2", k=1)),
    ("duplicates", {"threshold": "0.5"}, lambda col: col.duplicates(threshold="0.5")),
    # some ids given, some not: refused in every door (MCP too: tests/integrations/test_mcp.py)
    ("add", {"documents": [{"text": "x"}, {"id": "b", "text": "y"}]}, lambda col: col.add(["x", "y"], ids=[None, "b"])),
]


@pytest.mark.parametrize("route,body,python", TYPED, ids=[f"{r}-{list(b)[-1]}" for r, b, _ in TYPED])
def test_a_value_of_the_wrong_type_is_refused_as_python_refuses_it(served, route, body, python):
    client, work = served
    with embkit.open(work / "docs") as col:
        expected = _python_error(lambda: python(col))
    r = client.post(f"/collections/docs/{route}", json=body)
    assert r.status_code == 422 and r.json()["error"]["message"] == expected


@pytest.mark.parametrize("route,body,message", [
    ("dedupe", {"threshold": 0.1, "delete": "yes"}, "delete: expected true or false, got 'yes'"),
    ("get", {"limit": "2"}, "limit: must be an integer, got '2'"),
    ("get", {"include_vectors": 1}, "include_vectors: expected true or false, got 1"),
    ("add", {"documents": "yes"}, "documents: Input should be a valid list"),
    ("add", {"documents": [{"text": "x"}], "chunk": "no"}, "chunk: expected true or false, got 'no'"),
])
def test_a_value_only_the_server_reads_is_refused_by_its_type(served, route, body, message):
    client, work = served
    r = client.post(f"/collections/docs/{route}", json=body)
    assert r.status_code == 422 and r.json()["error"]["message"] == message
    assert client.get("/collections/docs").json()["count"] == len(TEXTS)  # the dedupe deleted nothing
