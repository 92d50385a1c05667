"""The fast path (server/fast_search.py) searches on the event loop after its ready
check; a route thread's catch-up may take the FAISS index's own write lock in between
(`FaissIndex.replace`, `add`, `remove`). The fast path waited for that change on the
event loop; it now leaves the request to the route (IndexBusy under NO_WAIT,
index/faiss_base.py). In process: `_answer` called directly, as in
test_fast_search_catch_up_race.py."""

import json
import threading

import numpy as np

import embkit
from embkit.server.app import create_app
from embkit.server.hosting import Collections

N, DIM = 30, 8
SCOPE = {"type": "http", "method": "POST", "path": "/collections/docs/search", "headers": [], "query_string": b""}


def test_the_faiss_write_lock_held_sends_the_request_to_the_route(tmp_path):
    x = np.random.default_rng(2).normal(size=(N, DIM)).astype(np.float32)
    with embkit.create(tmp_path / "docs", model=None, dim=DIM) as col:
        col.add(ids=[f"d{i}" for i in range(N)], vectors=x)
    collections = Collections([tmp_path / "docs"])
    fast = create_app(collections, None).app  # RequestMiddleware -> FastSearch
    hosted = collections.get("docs")
    hosted.collection.search(vector=x[0], k=1)  # the index loaded: ready
    index = hosted.collection._index.current()
    body = json.dumps({"vector": x[4].tolist(), "k": 2}).encode()
    held, done = threading.Event(), threading.Event()

    def change():  # a catch-up inside the index (its manager's lock is free: the ready check passes)
        with index.lock.writing():
            held.set()
            assert done.wait(10)

    writer = threading.Thread(target=change, daemon=True)
    writer.start()
    try:
        assert held.wait(10) and hosted.collection.index_ready()
        answer = fast._answer(SCOPE, "docs", body)
        still_held = writer.is_alive()  # before the fix: answered only once the change was done
        assert answer is None and still_held
    finally:
        done.set()
        writer.join(10)
    try:
        assert json.loads(fast._answer(SCOPE, "docs", body))["hits"][0]["id"] == "d4"  # lock free: fast
    finally:
        collections.close()
