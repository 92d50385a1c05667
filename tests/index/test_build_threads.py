"""Index builds and big catch-ups run FAISS on every core (build_threads), whatever
thread count the calling thread keeps for its queries; that count is restored after,
searches during a background build stay exact, and the graph a parallel build gives
finds what a one-thread build finds."""

import threading

import faiss
import numpy as np
import pytest

import embkit
from embkit.errors import EmbkitError
from embkit.index import HnswIndex, manager
from embkit.index.build_threads import ENV, build_threads, building

DIM = 16
N = 3000
SPEC = "hnsw:M=16,efc=100,ef=64"


@pytest.fixture
def one_query_thread():
    """The calling thread set to one FAISS thread, as a single-query server would be."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


@pytest.fixture
def seen_threads(monkeypatch):
    """(thread name, FAISS threads) at every HNSW add (a build's, or a catch-up's inside
    `replace`): the real add runs, this only records."""
    seen = []
    add = HnswIndex._add_locked

    def recording(self, ids, vectors):
        seen.append((threading.current_thread().name, faiss.omp_get_max_threads()))
        add(self, ids, vectors)

    monkeypatch.setattr(HnswIndex, "_add_locked", recording)
    return seen


def unit(rng, n):
    x = rng.normal(size=(n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_building_sets_the_threads_and_restores_them(one_query_thread, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    with building() as threads:
        assert threads == build_threads() == len(__import__("os").sched_getaffinity(0))
        assert faiss.omp_get_max_threads() == threads
    assert faiss.omp_get_max_threads() == 1
    monkeypatch.setenv(ENV, "3")
    with building():
        assert faiss.omp_get_max_threads() == 3
    assert faiss.omp_get_max_threads() == 1


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5", "\u00b2", "1025", "99999999999999999999"])
def test_a_bad_thread_count_is_refused_and_changes_nothing(one_query_thread, monkeypatch, value):
    monkeypatch.setenv(ENV, value)
    with pytest.raises(EmbkitError, match=f"^{ENV}: must be a whole number from 1 to 1024, got '{value}'$"):
        with building():
            pass
    assert faiss.omp_get_max_threads() == 1


def test_a_build_and_a_catch_up_run_on_the_build_threads(tmp_path, one_query_thread, seen_threads, monkeypatch):
    monkeypatch.setenv(ENV, "2")
    vectors = unit(np.random.default_rng(0), N)
    col = embkit.create(tmp_path / "c", model=None, dim=DIM)
    col.add(ids=[f"d{i}" for i in range(N)], vectors=vectors)
    col.build_index(SPEC)  # in this thread
    assert seen_threads == [("MainThread", 2)] and faiss.omp_get_max_threads() == 1
    more = unit(np.random.default_rng(1), 1500)
    col.add(ids=[f"m{i}" for i in range(1500)], vectors=more)
    assert [h.id for h in col.search(vector=more[7], k=1)] == ["m7"]  # caught up on the search's way
    assert seen_threads[1:] == [("MainThread", 2)] and faiss.omp_get_max_threads() == 1
    assert col._index.index.kind == "hnsw" and col._index.index.ntotal == N + 1500
    col.add(ids=["one"], vectors=more[:1])  # a few rows stay on the searching thread's one
    assert {h.id for h in col.search(vector=more[0], k=2)} == {"m0", "one"}  # twins
    assert seen_threads[2:] == [("MainThread", 1)] and faiss.omp_get_max_threads() == 1
    col.close()


def test_searches_stay_exact_and_on_one_thread_during_a_background_build(tmp_path, one_query_thread,
                                                                           seen_threads, monkeypatch):
    monkeypatch.setenv(ENV, "2")
    monkeypatch.setattr(manager, "BACKGROUND_FROM", 1000)
    vectors = unit(np.random.default_rng(0), N)
    ids = [f"d{i}" for i in range(N)]
    col = embkit.create(tmp_path / "c", model=None, dim=DIM)
    col.build_index(SPEC)  # empty: only sets the spec; the adds below leave it far behind
    col.add(ids=ids, vectors=vectors)
    for q in vectors[:20]:  # the first starts the build in a thread; all are exact meanwhile
        exact = [ids[i] for i in np.argsort(-(vectors @ q), kind="stable")[:10]]
        assert [h.id for h in col.search(vector=q, k=10)] == exact
        assert faiss.omp_get_max_threads() == 1
    col.refresh_index()
    assert seen_threads == [("embkit-index-build", 2)] and faiss.omp_get_max_threads() == 1
    assert col._index.index.kind == "hnsw" and col._index.index.ntotal == N
    col.close()


def recall_at_10(tmp_path, name, threads, monkeypatch, base, queries):
    monkeypatch.setenv(ENV, str(threads))
    col = embkit.create(tmp_path / name, model=None, dim=DIM)
    col.add(ids=[str(i) for i in range(len(base))], vectors=base)
    col.build_index(SPEC)
    found = [[int(h.id) for h in col.search(vector=q, k=10)] for q in queries]
    col.close()
    truth = np.argsort(-(queries @ base.T), axis=1, kind="stable")[:, :10]
    return np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])


def test_a_parallel_build_finds_what_a_one_thread_build_finds(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    base, queries = unit(rng, N), unit(rng, 200)
    one = recall_at_10(tmp_path, "one", 1, monkeypatch, base, queries)
    two = recall_at_10(tmp_path, "two", 2, monkeypatch, base, queries)
    assert one >= 0.97 and two >= 0.97 and abs(one - two) <= 0.01, (one, two)
