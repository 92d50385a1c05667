"""Searches in several threads on one collection (as the server runs them) while one of
them catches the index up with another handle's writes: the catch-up (FAISS add and
remove) waits for searches inside FAISS and they for it (index/rw_lock.py); FAISS is not
safe for an add during a search."""

import threading

import numpy as np
import pytest

import embkit

N, DIM = 500, 8


def _unit(n, seed):
    x = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(params=["flat", "hnsw:M=16,efc=100,ef=64"])
def pair(request, tmp_path):
    """(a collection with an index of `request.param`, a second handle on it, its vectors)."""
    x = _unit(N, 0)
    col = embkit.create(tmp_path / "c", model=None, dim=DIM)
    col.add(ids=[f"d{i}" for i in range(N)], vectors=x)
    col.build_index(request.param)
    other = embkit.open(tmp_path / "c")
    yield col, other, x
    other.close(), col.close()


def test_a_catch_up_waits_for_a_search_inside_the_index(pair):
    col, other, x = pair
    index = col._index.current()
    entered, release = threading.Event(), threading.Event()
    real = index._search_parameters

    def paused(*args):  # inside the search's read of the index, before FAISS runs
        if not entered.is_set():
            entered.set()
            release.wait(30)
        return real(*args)

    index._search_parameters = paused
    found = {}
    reader = threading.Thread(target=lambda: found.setdefault("a", [h.id for h in col.search(vector=x[3], k=3)]))
    reader.start()
    assert entered.wait(30)
    fresh = _unit(5, 1)
    other.add(ids=[f"new{i}" for i in range(5)], vectors=fresh)
    catcher = threading.Thread(target=lambda: found.setdefault("b", [h.id for h in col.search(vector=fresh[2], k=1)]))
    catcher.start()
    catcher.join(1.0)
    assert catcher.is_alive() and len(index.live) == N  # the add waits for the search in the index
    release.set()
    reader.join(30), catcher.join(30)
    assert found["a"][0] == "d3" and len(found["a"]) == 3
    assert found["b"] == ["new2"] and len(index.live) == N + 5


def test_searches_in_threads_during_catch_ups_are_exact(pair):
    """Three threads search while another handle adds and deletes; every search finds
    the document whose own vector it asks for (never deleted) at the top."""
    col, other, x = pair
    errors, stop = [], threading.Event()

    def search(seed):
        rng = np.random.default_rng(seed)
        try:
            for _ in range(150):
                i = int(rng.integers(0, N // 2))
                hits = col.search(vector=x[i], k=5)
                if len(hits) != 5 or hits[0].id != f"d{i}":
                    errors.append((i, [h.id for h in hits]))
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(e))

    def write():
        for round_ in range(30):
            other.add(ids=[f"w{round_}-{j}" for j in range(20)], vectors=_unit(20, 100 + round_))
            other.delete(ids=[f"d{N // 2 + round_}"])
            if stop.is_set():
                return

    threads = [threading.Thread(target=search, args=(s,)) for s in range(3)]
    writer = threading.Thread(target=write)
    for t in [writer, *threads]:
        t.start()
    for t in threads:
        t.join(120)
    stop.set()
    writer.join(120)
    assert errors == []


def test_an_upserted_row_is_never_missing_during_its_catch_up(pair):
    """The catch-up of an upsert hides the row's old entry and adds its new one as one
    change: a search in another thread sees the row before or after, never without it
    (it missed it and still returned a full k). The search runs where the catch-up
    checks the new vectors, which once came between the two."""
    col, other, x = pair
    index = col._index.index
    col.search(vector=x[0], k=5)  # caught up
    seen = []
    real_check = index._check

    def check_then_search(vectors, field):
        if field == "vectors" and not seen:
            seen.append(index.search(x[0][None, :], 5)[0][0].tolist())
        return real_check(vectors, field)

    before = index.search(x[0][None, :], 5)[0][0].tolist()
    other.upsert(ids=["d0"], vectors=x[[0]])
    index._check = check_then_search
    try:
        hits = col.search(vector=x[0], k=5)
    finally:
        del index._check
    assert len(seen) == 1 and seen[0] == before  # d0's row (first) still there
    assert hits[0].id == "d0"
