"""The fast path (server/fast_search.py) searches on the event loop after its ready
check; a route thread's catch-up may take the FAISS index's own write lock in between
(`FaissIndex.replace`, `add`, `remove`). The fast path waited for that change on the
event loop; it now leaves the request to the route (IndexBusy under NO_WAIT,
index/faiss_base.py). In process: `_answer` called directly, as in
test_fast_search_catch_up_race.py."""

import json

import numpy as np

import embkit
from embkit.server.app import create_app
from embkit.server.hosting import Collections

from fast_answer_held import answered_while_held

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
    try:  # a catch-up inside the index (its manager's lock is free: the ready check passes)
        answered_while_held(fast, SCOPE, body, index.lock.writing, "d4", hosted.collection.index_ready)
    finally:
        collections.close()
