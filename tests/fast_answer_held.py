"""The server's fast path asked while another thread holds a lock it would wait for:
it must leave the request to the route at once (None), then answer fast once the lock
is free. Shared by the tests of the two locks a search takes (the index manager's and
the FAISS index's own)."""

import json
import threading


def answered_while_held(fast, scope: dict, body: bytes, holding, expected_id: str, ready=lambda: True,
                        answers: bool = False) -> None:
    """`holding()` (a context manager) entered in another thread; while it is held,
    `ready()` is true and `fast._answer` gives None (before the fix: it answered only once
    the holder gave up), or with `answers` (a lock the search no longer takes) its answer
    at once; afterwards the fast answer's first hit is `expected_id`."""
    held, done = threading.Event(), threading.Event()

    def hold():
        with holding():
            held.set()
            done.wait(10)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    try:
        assert held.wait(10) and ready()
        answer = fast._answer(scope, "docs", body)
        assert holder.is_alive()  # answered (or handed on) while the lock is still held
        if answers:
            assert answer is not None and json.loads(answer)["hits"][0]["id"] == expected_id
        else:
            assert answer is None
    finally:
        done.set()
        holder.join(10)
    assert json.loads(fast._answer(scope, "docs", body))["hits"][0]["id"] == expected_id
