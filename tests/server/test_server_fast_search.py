"""The event-loop fast path for small dense searches answers exactly what the ordinary
route answers (same bytes but the timing), and steps aside whenever it could not: a
filter, a text query, an index that must catch up first, a bad key, a bad body."""

import json
import time

import numpy as np
import pytest

import embkit

from live_server import LiveServer, create_key

TEXTS = [f"document number {i} about {topic}" for i, topic in
         enumerate(["rivers", "mountains", "bread", "tea", "rockets", "planets", "python", "databases"] * 5)]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("fast")
    col = embkit.create(root / "docs")
    col.add(TEXTS, ids=[f"d{i}" for i in range(len(TEXTS))], metadatas=[{"n": i} for i in range(len(TEXTS))])
    vectors = col.embed(["rivers and lakes", "baking"])
    col.close()
    keys_file = root / "keys.json"
    read, other = create_key(keys_file, "read"), create_key(keys_file, "read", "elsewhere")
    live = LiveServer([str(root / "docs"), "--keys-file", str(keys_file)], root / "server.log")
    yield live, read, other, vectors
    assert live.stop() == 0


def _answered_fast(live: LiveServer, request_id: str) -> bool:
    deadline = time.monotonic() + 5  # the log line is written just after the response is sent
    while True:
        lines = [line for line in live.log.read_text().splitlines() if f" {request_id} POST " in line]
        if lines or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(lines) == 1, lines
    return lines[0].endswith(" fast")


def _search(client, request_id: str, body: dict):
    return client.post("/collections/docs/search", json=body, headers={"X-Request-ID": request_id})


def _without_timing(response) -> dict:
    body = response.json()
    body.pop("took_ms")
    return body


def test_fast_answer_equals_the_route(served):
    live, read, _, vectors = served
    body = {"vector": vectors[0].tolist(), "k": 5}
    with live.client(read) as client:
        first = _search(client, "first", body)  # opens the collection and loads the index: the route
        second = _search(client, "second", body)
        filtered = _search(client, "filtered", {**body, "where": {"n": {"$gte": 0}}})  # filters go to the route
    assert first.status_code == second.status_code == filtered.status_code == 200
    assert not _answered_fast(live, "first") and _answered_fast(live, "second")
    assert not _answered_fast(live, "filtered")
    assert _without_timing(first) == _without_timing(second)
    # A filter is scored exactly among its rows (numpy over the index's vectors) rather than
    # by FAISS's scan: the same hits, scores equal to float32 rounding.
    plain, narrowed = _without_timing(first)["hits"], _without_timing(filtered)["hits"]
    assert [h["id"] for h in plain] == [h["id"] for h in narrowed]
    for a, b in zip(plain, narrowed):
        assert a.keys() == b.keys()
        for key in a:  # scores (also a hit's passages' scores) to float32 rounding, the rest exactly
            assert a[key] == pytest.approx(b[key], abs=1e-6) if "score" in key else a[key] == b[key], key
    assert second.headers["content-type"] == first.headers["content-type"] == "application/json"
    assert second.headers["x-request-id"] == "second"
    assert second.json()["hits"][0]["id"] in {"d0", "d8", "d16", "d24", "d32"}  # a river document


def test_like_is_fast_and_text_is_not(served):
    live, read, _, _ = served
    with live.client(read) as client:
        _search(client, "warm", {"like": "d2", "k": 3})
        like = _search(client, "like", {"like": "d2", "k": 3})
        text = _search(client, "text", {"query": "baking", "k": 3})
    assert like.status_code == text.status_code == 200
    assert _answered_fast(live, "like") and not _answered_fast(live, "text")
    assert "d2" not in [h["id"] for h in like.json()["hits"]]
    assert text.json()["hits"][0]["id"] in {"d2", "d10", "d18", "d26", "d34"}  # a bread document


@pytest.mark.parametrize("case", ["no key", "other collection", "unknown field", "k over the limit", "wrong dim"])
def test_errors_are_the_routes(served, case):
    live, read, other, vectors = served
    body, key = {"vector": vectors[1].tolist(), "k": 3}, read
    if case == "no key":
        key = None
    elif case == "other collection":
        key = other
    elif case == "unknown field":
        body["colour"] = "red"
    elif case == "k over the limit":
        body["k"] = 5000
    else:
        body["vector"] = body["vector"][:10]
    with live.client(key) as client:
        _search(client, "warm-" + case, {"vector": vectors[1].tolist(), "k": 3}) if key else None
        r = _search(client, case.replace(" ", "-"), body)
    assert r.status_code == {"no key": 401, "other collection": 403, "unknown field": 422, "k over the limit": 422,
                             "wrong dim": 422}[case], r.text
    assert r.json()["error"]["request_id"] == case.replace(" ", "-")
    assert not _answered_fast(live, case.replace(" ", "-"))


def test_after_a_write_the_route_catches_up_then_fast_again(served, tmp_path):
    live, read, _, vectors = served
    keys_file = live.log.parent / "keys.json"
    writer = create_key(keys_file, "write")
    new = (vectors[0] + 0.01 * np.ones_like(vectors[0])).astype(np.float32)
    new /= np.linalg.norm(new)
    with live.client(writer) as client:
        r = client.post("/collections/docs/add", json={"documents": [{"id": "new", "vector": new.tolist()}]})
        assert r.status_code == 201, r.text
        after = _search(client, "after-write", {"vector": new.tolist(), "k": 1})
        again = _search(client, "again", {"vector": new.tolist(), "k": 1})
    assert after.json()["hits"][0]["id"] == again.json()["hits"][0]["id"] == "new"
    assert not _answered_fast(live, "after-write") and _answered_fast(live, "again")
    assert json.loads(again.content)["hits"][0]["score"] == pytest.approx(1.0, abs=1e-5)


def test_rows_vanished_go_to_the_route(tmp_path):
    """Rows gone between the index's answer and the row read (another handle's delete):
    the fast path does not ask again on the event loop (that catches the index up: a
    store read, a FAISS add); it leaves the request to the route. In process: the hook
    on the store's row read must sit in the server's own handle."""
    from embkit.server.app import create_app
    from embkit.server.hosting import Collections

    x = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32)
    col = embkit.create(tmp_path / "docs", model=None, dim=8)
    col.add(ids=[f"d{i}" for i in range(50)], vectors=x)
    col.close()
    collections = Collections([tmp_path / "docs"])
    fast = create_app(collections, None).app
    hosted = collections.get("docs")
    hosted.collection.search(vector=x[0], k=5)  # the index loaded: ready
    store, reads = hosted.collection._store, []
    real = store.search_rows

    def lossy(rowids):
        reads.append(1)
        found = real(rowids)
        found.pop(rowids[0], None)
        return found

    store.search_rows = lossy
    scope = {"type": "http", "method": "POST", "path": "/collections/docs/search", "headers": [],
             "query_string": b""}
    body = json.dumps({"vector": x[0].tolist(), "k": 5}).encode()
    try:
        assert fast._answer(scope, "docs", body) is None and reads == [1]  # one search, no catch-up
        store.search_rows = real
        assert json.loads(fast._answer(scope, "docs", body))["hits"][0]["id"] == "d0"
    finally:
        collections.close()
