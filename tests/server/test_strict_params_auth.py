"""A refusal of input a route does not read (params_unread.py) comes after the route's key
check, as FastAPI's own validation does: without a valid key a caller gets 401, with a
key of too small a scope 403, and only a caller the route would serve learns its options."""

import pytest

import embkit

from live_server import LiveServer, create_key


@pytest.fixture(scope="module")
def served(tmp_path_factory, minilm):
    work = tmp_path_factory.mktemp("strict_auth")
    with embkit.create(work / "docs") as col:
        col.add(["Knead the dough and let the bread rise."], ids=["bread"])
    keys = work / "keys.json"
    read, write = create_key(keys, "read"), create_key(keys, "write")
    server = LiveServer([str(work / "docs"), "--keys-file", str(keys)], work / "server.log",
                        env={"HF_HUB_OFFLINE": "1"})
    try:
        yield server, read, write
    finally:
        assert server.stop() == 0


def test_no_key_gets_401_before_the_unknown_parameter(served):
    server, _, _ = served
    with server.client() as anyone:
        assert anyone.get("/collections/docs/map", params={"colour_by": "x"}).status_code == 401
        assert anyone.post("/collections/docs/compact", json={"full": True}).status_code == 401
        assert anyone.get("/health", params={"x": "1"}).status_code == 422  # it needs no key


def test_a_key_too_small_gets_403_and_a_sufficient_one_the_422(served):
    server, read, write = served
    with server.client(read) as reader:
        assert reader.post("/collections/docs/compact", params={"ful": "true"}).status_code == 403
        refused = reader.get("/collections/docs/map", params={"colour_by": "x"})
        assert refused.status_code == 422 and refused.json()["error"]["message"].startswith("colour_by: ")
    with server.client(write) as writer:
        refused = writer.post("/collections/docs/compact", params={"ful": "true"})
        assert refused.status_code == 422 and refused.json()["error"]["message"].startswith("ful: ")
        assert writer.post("/collections/docs/compact", params={"full": "true"}).status_code == 200
