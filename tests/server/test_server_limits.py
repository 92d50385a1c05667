"""Each configured limit hit once: a 413 or 422 naming the limit, and nothing of that
request written. Names that could leave the root folder are refused."""

import httpx
import pytest

import embkit

from live_server import LiveServer, create_key, embkit_cli

LIMITS = ["--max-batch", "5", "--max-text-chars", "300", "--max-k", "20", "--max-body-bytes", "20000"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    col = embkit.create(root / "main")
    col.add(["first document about cats", "second document about stocks"], ids=["a", "b"])
    col.close()
    keys_file = root.parent / "keys.json"
    key = create_key(keys_file, "admin")
    live = LiveServer(["--root", str(root), "--keys-file", str(keys_file), *LIMITS], root.parent / "server.log")
    with live.client(key) as client:
        yield live, client, root
    assert live.stop() == 0


def _count(client) -> int:
    return client.get("/collections/main").json()["count"]


def _refused(r, status: int, limit: str) -> None:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == "limit_exceeded" and error["limit"] == limit
    assert limit in error["message"]


def test_max_batch(server):
    _, client, _ = server
    docs = [{"id": f"n{i}", "text": f"note number {i}"} for i in range(6)]
    r = client.post("/collections/main/add", json={"documents": docs})
    _refused(r, 422, "max_batch")
    assert "documents: 6 items exceeds the maximum batch of 5" in r.json()["error"]["message"]
    assert _count(client) == 2
    _refused(client.post("/collections/main/embed", json={"texts": ["x"] * 6}), 422, "max_batch")
    assert client.post("/collections/main/add", json={"documents": docs[:5]}).status_code == 201
    deleted = client.post("/collections/main/delete", json={"ids": [d["id"] for d in docs[:5]]}).json()
    assert deleted == {"deleted": 5, "documents": 5}


def test_max_text_chars(server):
    _, client, _ = server
    docs = [{"id": "ok", "text": "short"}, {"id": "long", "text": "word " * 61}]
    r = client.post("/collections/main/add", json={"documents": docs})
    _refused(r, 422, "max_text_chars")
    assert "documents.text[1]: 305 characters" in r.json()["error"]["message"]
    assert _count(client) == 2
    _refused(client.post("/collections/main/search", json={"query": "q" * 301}), 422, "max_text_chars")


def test_max_k(server):
    _, client, _ = server
    _refused(client.post("/collections/main/search", json={"query": "cats", "k": 21}), 422, "max_k")
    assert len(client.post("/collections/main/search", json={"query": "cats", "k": 20}).json()["hits"]) == 2


def test_max_body_bytes(server):
    live, client, _ = server
    big = {"documents": [{"id": "big", "text": "a few words", "metadata": {"blob": "x" * 25_000}}]}
    r = client.post("/collections/main/add", json=big)
    _refused(r, 413, "max_body_bytes")
    assert _count(client) == 2
    # a chunked body (no Content-Length) is counted as it streams in
    chunks = (b'{"documents": [{"id": "big2", "text": "' + b"y" * 10_000 + b'"}]}' for _ in range(1))

    def stream():
        body = next(chunks)
        for i in range(0, len(body), 1000):
            yield body[i:i + 1000]
        yield b" " * 15_000

    r = client.post("/collections/main/add", content=stream(), headers={"content-type": "application/json"})
    _refused(r, 413, "max_body_bytes")
    assert _count(client) == 2


@pytest.mark.parametrize("name", ["..", "...", ".hidden", "a/b", "a\\b", "../main", "x" * 65, "-x", "a b"])
def test_names_that_could_leave_the_root_are_refused(server, name):
    _, client, root = server
    r = client.post("/collections", json={"name": name})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"].startswith("name:")
    assert sorted(p.name for p in root.iterdir()) == ["main"]


@pytest.mark.parametrize("path", ["/collections/..%2F..%2Fetc/search", "/collections/%2e%2e/search",
                                  "/collections/.%2e/get", "/collections/..%5Cmain/search"])
def test_traversal_in_the_path_is_refused(server, path):
    live, client, _ = server
    r = httpx.post(live.url + path, json={"query": "x"}, headers=client.headers)
    assert r.status_code in (404, 422), (path, r.status_code, r.text)
    assert "hits" not in r.text


def test_no_auth_is_refused_off_loopback(tmp_path):
    embkit.create(tmp_path / "c").close()
    done = embkit_cli("serve", str(tmp_path / "c"), "--no-auth", "--host", "0.0.0.0", "--port", "1")
    assert done.returncode == 1
    assert "no_auth: refused on '0.0.0.0'" in done.stderr


def test_an_unknown_log_level_is_one_line(tmp_path):
    embkit.create(tmp_path / "c").close()
    done = embkit_cli("serve", str(tmp_path / "c"), "--no-auth", "--port", "1", "--log-level", "loud")
    assert done.returncode == 1
    assert done.stderr.strip() == ("error: log_level: unknown 'loud' "
                                   "(allowed: critical, error, warning, info, debug, trace)")


def test_no_auth_on_loopback_needs_no_key(tmp_path):
    col = embkit.create(tmp_path / "c")
    col.add(["only document"], ids=["only"])
    col.close()
    live = LiveServer([str(tmp_path / "c"), "--no-auth"], tmp_path / "log")
    try:
        with live.client() as c:
            assert c.get("/collections").json() == {"collections": ["c"]}
            assert [h["id"] for h in c.post("/collections/c/search", json={"query": "doc"}).json()["hits"]] == ["only"]
    finally:
        assert live.stop() == 0


def test_default_bind_is_loopback():
    import inspect

    from embkit.cli import serving

    assert inspect.signature(serving.serve).parameters["host"].default.default == "127.0.0.1"
