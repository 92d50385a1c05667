"""The fast path (server/fast_search.py) checks that the index is ready, then searches
on the event loop. Between the two, another process's write can make a route thread
start a catch-up, which holds the index manager's lock while it reads the new rows and
adds them; the fast path then waited for that lock ON THE EVENT LOOP, stalling every
request. It now takes the index only if it is ready this instant (index/no_wait.py) and
leaves the request to the route otherwise. The interleaving is made exact by pausing
both threads at chosen lines (tests/thread_pause.py). In process: the fast path's
`_answer` is called directly, as in test_server_fast_search.py."""

import json
import sys
import threading

import numpy as np

import embkit
from embkit.index import manager
from embkit.server import fast_search
from embkit.server.app import create_app
from embkit.server.hosting import Collections

from fast_answer_held import answered_while_held
from thread_pause import paused_at

N, DIM = 50, 8
SCOPE = {"type": "http", "method": "POST", "path": "/collections/docs/search", "headers": [], "query_string": b""}


def _served(tmp_path):
    x = np.random.default_rng(0).normal(size=(N, DIM)).astype(np.float32)
    col = embkit.create(tmp_path / "docs", model=None, dim=DIM)
    col.add(ids=[f"d{i}" for i in range(N)], vectors=x)
    col.close()
    collections = Collections([tmp_path / "docs"])
    fast = create_app(collections, None).app  # RequestMiddleware -> FastSearch
    hosted = collections.get("docs")
    hosted.collection.search(vector=x[0], k=5)  # the index loaded: ready
    assert hosted.collection.index_ready()
    return x, collections, fast, hosted


def _paused(filename: str, function: str, line: str, run, out: list):
    """A thread running `run()` (its result appended to `out`) that pauses at `line`;
    returns (thread, reached, go)."""
    reached, go = threading.Event(), threading.Event()

    def body():
        sys.settrace(paused_at(filename, function, [line], [reached], [go]))
        try:
            out.append(run())
        finally:
            sys.settrace(None)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread, reached, go


def test_a_catch_up_begun_after_the_ready_check_sends_the_request_to_the_route(tmp_path):
    x, collections, fast, hosted = _served(tmp_path)
    new = np.ones(DIM, np.float32)
    body = json.dumps({"vector": new.tolist(), "k": 1}).encode()
    answered, routed = [], []
    try:
        # the fast path, past its ready check, just before it searches
        fast_thread, fast_reached, fast_go = _paused(
            fast_search.__file__,
            "_answer",
            "started = time.perf_counter()",
            lambda: fast._answer(SCOPE, "docs", body),
            answered,
        )
        assert fast_reached.wait(10)
        with embkit.open(tmp_path / "docs") as other:  # another process's write
            other.add(ids=["new"], vectors=new[None])
        # a route thread's search catches the index up: paused holding the manager's lock
        route_thread, route_reached, route_go = _paused(
            manager.__file__,
            "_current",
            "self.index.replace(changed",
            lambda: [h.id for h in hosted.collection.search(vector=new, k=1)],
            routed,
        )
        assert route_reached.wait(10)
        fast_go.set()
        fast_thread.join(10)  # waited for the catch-up's lock before: still blocked here
        caught_up_meanwhile = route_thread.is_alive() and not routed
        route_go.set()
        route_thread.join(10)
        assert not fast_thread.is_alive() and not route_thread.is_alive()
        assert answered == [None] and caught_up_meanwhile  # left to the route while the catch-up ran
        assert routed == [["new"]]  # the route's answer, the catch-up done
        assert json.loads(fast._answer(SCOPE, "docs", body))["hits"][0]["id"] == "new"  # ready: fast again
    finally:
        fast_go.set()
        route_go.set()
        collections.close()


def test_the_index_manager_lock_held_by_another_thread_does_not_hold_up_the_fast_path(tmp_path):
    """A warm plain search reads the index as it is, without the manager's lock, and checks
    it against the generation its rows' statement read (search/plain.py): a held lock
    neither blocks the event loop nor, now, sends the request to the route."""
    x, collections, fast, hosted = _served(tmp_path)
    body = json.dumps({"vector": x[3].tolist(), "k": 2}).encode()
    try:
        answered_while_held(fast, SCOPE, body, lambda: hosted.collection._index._lock, "d3", answers=True)
    finally:
        collections.close()
