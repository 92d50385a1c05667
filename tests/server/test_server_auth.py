"""Every route in the OpenAPI schema, against a real uvicorn server: without a key
(401), with a key of the wrong scope or collection (403), with a valid key (2xx).
Refused requests change nothing."""

import pytest

import embkit

from live_server import LiveServer, create_key

DOCS = [("cat", "The cat sleeps on a warm windowsill all afternoon.", "pets"),
        ("dog", "A dog fetches the ball and runs back across the park.", "pets"),
        ("fish", "Goldfish swim slowly around the glass bowl.", "pets"),
        ("stocks", "Stock markets fell sharply after the interest rate decision.", "money"),
        ("bonds", "Bond yields rose as investors sold government debt.", "money"),
        ("bank", "The bank raised its savings account interest rates.", "money"),
        ("rain", "Heavy rain and strong winds are expected this weekend.", "weather"),
        ("snow", "Snow covered the mountain roads overnight.", "weather")]

NAME = "main"
# (method, path, body or None, scope the route needs). Paths use the collection `main`.
ROUTES = [
    ("GET", "/collections", None, "read"),
    ("GET", "/collections/{name}", None, "read"),
    ("GET", "/collections/{name}/fields", None, "read"),
    ("GET", "/collections/{name}/check", None, "read"),
    ("GET", "/collections/{name}/check?repair=true", None, "write"),  # rebuilding files: more than a read
    ("POST", "/collections/{name}/compact", None, "write"),
    ("POST", "/collections/{name}/add", {"documents": [{"id": "new", "text": "A parrot talks all day."}]}, "write"),
    ("POST", "/collections/{name}/upsert", {"documents": [{"id": "new", "text": "A parrot repeats words."}]},
     "write"),
    ("POST", "/collections/{name}/files",
     {"folder": "notes", "files": [{"path": "parrot.txt", "data": "QSBwYXJyb3QgdGFsa3Mu"}]}, "write"),
    ("POST", "/collections/{name}/sync", {"folder": "notes", "dry_run": True}, "write"),  # no --source-root: 403
    ("POST", "/collections/{name}/get", {"ids": ["cat", "dog"]}, "read"),
    ("GET", "/collections/{name}/documents/{doc_id}", None, "read"),
    ("GET", "/collections/{name}/view?id={doc_id}", None, "read"),
    ("GET", "/collections/{name}/thumbnails/{doc_id}", None, "read"),  # `fish` is text: 404 once allowed in
    ("GET", "/collections/{name}/audio/{doc_id}", None, "read"),  # `fish` is text: 404 once allowed in
    ("GET", "/collections/{name}/waveforms/{doc_id}", None, "read"),  # `fish` is text: 404 once allowed in
    ("POST", "/collections/{name}/images", {"images": [{"data": "iVBORw0KGgo="}]}, "write"),  # no image space: 422
    ("POST", "/collections/{name}/audio", {"audio": [{"data": "UklGRjQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0"
                                                     "YRAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}, "write"),  # no audio space: 422
    ("POST", "/collections/{name}/search", {"query": "falling share prices", "k": 3}, "read"),
    ("POST", "/collections/{name}/context", {"question": "what happened to interest rates?", "budget_tokens": 100},
     "read"),
    ("POST", "/collections/{name}/embed", {"texts": ["hello world"]}, "read"),
    ("POST", "/collections/{name}/similarity", {"a": ["kitten"], "b": ["cat", "bond"]}, "read"),
    ("POST", "/collections/{name}/cluster", {"k": 3}, "write"),
    ("GET", "/collections/{name}/map?method=pca&color_by=cluster", None, "read"),
    ("POST", "/collections/{name}/outliers", {"top": 2, "k": 2}, "read"),
    ("POST", "/collections/{name}/duplicates", {"unit": "chunk"}, "read"),
    ("POST", "/collections/{name}/dedupe", {}, "write"),  # a dry run
    ("DELETE", "/collections/{name}/documents/{doc_id}", None, "write"),
    ("POST", "/collections/{name}/delete", {"ids": ["snow"]}, "write"),
    ("POST", "/collections", {"name": "made"}, "admin"),
    ("DELETE", "/collections/{made}", None, "admin"),
]
# The OpenAI-compatible routes answer in OpenAI's error shape; their keys and errors are
# tested in test_openai_api.py.
OPENAI_ROUTES = {("POST", "/v1/embeddings"), ("GET", "/v1/models"), ("GET", "/v1/models/{model_id}"),
                 ("POST", "/v1/rerank")}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    col = embkit.create(root / NAME)
    col.add([t for _, t, _ in DOCS], ids=[i for i, _, _ in DOCS], metadatas=[{"topic": c} for _, _, c in DOCS])
    col.close()
    embkit.create(root / "other").close()
    keys_file = root.parent / "keys.json"
    keys = {"admin": create_key(keys_file, "admin"), "write": create_key(keys_file, "write"),
            "read": create_key(keys_file, "read"), "read_other": create_key(keys_file, "read", "other"),
            "admin_other": create_key(keys_file, "admin", "other")}
    live = LiveServer(["--root", str(root), "--keys-file", str(keys_file)], root.parent / "server.log")
    yield live, keys, root
    assert live.stop() == 0


def _path(template: str, doc_id: str = "fish") -> str:
    return template.replace("{name}", NAME).replace("{doc_id}", doc_id).replace("{made}", "made")


def _call(client, method, path, body):
    return client.request(method, path, json=body) if body is not None else client.request(method, path)


def test_the_route_table_covers_the_openapi_schema(server):
    live, keys, _ = server
    with live.client(keys["read"]) as c:
        schema = c.get("/openapi.json").json()
    served = {(method.upper(), path) for path, item in schema["paths"].items() for method in item}
    table = {(m, p.split("?")[0].replace("{made}", "{name}")) for m, p, _, _ in ROUTES} | {("GET", "/health")}
    table |= OPENAI_ROUTES
    assert served == table


def test_health_needs_no_key(server):
    live, _, _ = server
    with live.client() as c:
        r = c.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_no_key_or_a_bad_key_is_401_and_changes_nothing(server):
    live, keys, root = server
    bad = keys["admin"][:-4] + "AAAA"
    for key in (None, bad, "not-a-key", keys["admin"] + "x"):
        with live.client(key) as c:
            before = c.get(f"/collections/{NAME}", headers={"Authorization": f"Bearer {keys['read']}"}).json()["count"]
            for method, template, body, _ in ROUTES:
                r = _call(c, method, _path(template), body)
                assert r.status_code == 401, (key, method, template, r.text)
                assert r.json()["error"]["code"] == "unauthorized"
                assert r.headers["www-authenticate"] == "Bearer"
            after = c.get(f"/collections/{NAME}", headers={"Authorization": f"Bearer {keys['read']}"}).json()["count"]
    assert before == after == len(DOCS)
    assert not (root / "made").exists()


def test_wrong_scope_or_collection_is_403_and_changes_nothing(server):
    live, keys, root = server
    wrong = {"read": keys["read_other"], "write": keys["read"], "admin": keys["write"]}
    for method, template, body, scope in ROUTES:
        if template == "/collections":
            continue  # every key may list; what it sees is checked below
        with live.client(wrong[scope]) as c:
            r = _call(c, method, _path(template), body)
        assert r.status_code == 403, (method, template, r.text)
        assert r.json()["error"]["code"] == "forbidden"
    with live.client(keys["admin_other"]) as c:  # an admin key for `other` cannot create `made`
        assert c.post("/collections", json={"name": "made"}).status_code == 403
        assert c.delete(f"/collections/{NAME}").status_code == 403
    with live.client(keys["read"]) as c:
        assert c.get(f"/collections/{NAME}").json()["count"] == len(DOCS)
        assert c.get(f"/collections/{NAME}/documents/new").status_code == 404
    assert not (root / "made").exists()


def test_a_key_for_one_collection_sees_only_that_one(server):
    live, keys, _ = server
    with live.client(keys["read_other"]) as c:
        assert c.get("/collections").json() == {"collections": ["other"]}
        assert c.get("/collections/other").status_code == 200
    with live.client(keys["read"]) as c:
        assert c.get("/collections").json() == {"collections": ["main", "other"]}


def test_every_route_succeeds_with_a_valid_key(server):
    """In table order, each with the least key that should do: read, write or admin."""
    live, keys, root = server
    for method, template, body, scope in ROUTES:
        with live.client(keys[scope]) as c:
            r = _call(c, method, _path(template), body)
        if "/thumbnails/" in template:  # let in, then told that a text document has no picture
            assert r.status_code == 404 and "no image document" in r.json()["error"]["message"], r.text
            continue
        if "/audio/" in template or "/waveforms/" in template:  # let in, then told a text document is not audio
            assert r.status_code == 404 and "no audio document" in r.json()["error"]["message"], r.text
            continue
        if template.endswith("/sync"):  # let in, then told that this server reads no folders
            assert r.status_code == 403 and "--source-root" in r.json()["error"]["message"], r.text
            continue
        if template.endswith("/images"):  # let in, then told that a text collection has no image space
            assert r.status_code == 422 and "no 'image' space" in r.json()["error"]["message"], r.text
            continue
        if template.endswith("/audio"):  # let in, then told that a text collection has no audio space
            assert r.status_code == 422 and "no 'audio' space" in r.json()["error"]["message"], r.text
            continue
        assert 200 <= r.status_code < 300, (method, template, r.status_code, r.text)
        assert r.headers["x-request-id"]
    with live.client(keys["read"]) as c:
        ids = {d["id"] for d in c.post(f"/collections/{NAME}/get", json={"limit": 100}).json()["documents"]}
    assert ids == {i for i, _, _ in DOCS} - {"fish", "snow"} | {"new", "notes/parrot.txt"}
    assert not (root / "made").exists()  # created, then deleted


def test_a_revoked_key_stops_working_without_a_restart(server, tmp_path):
    live, keys, root = server
    from live_server import embkit_cli

    keys_file = root.parent / "keys.json"
    key = create_key(keys_file, "read")
    with live.client(key) as c:
        assert c.get("/collections").status_code == 200
        done = embkit_cli("keys", "revoke", key.split("_")[1], "--keys-file", str(keys_file))
        assert done.returncode == 0, done.stderr
        assert c.get("/collections").status_code == 401
