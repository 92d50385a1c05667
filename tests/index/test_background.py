"""Big rebuilds run in a thread: searches stay exact and correct meanwhile, the new
index is adopted and caught up afterwards, and closing waits for it and saves it."""

import threading

import numpy as np
import pytest

import embkit
from embkit.index import manager, persist

DIM = 32
N = 3000


@pytest.fixture
def gate(monkeypatch):
    """Builds start only when the test opens the gate, so 'during the build' is certain."""
    monkeypatch.setattr(manager, "BACKGROUND_FROM", 1000)
    opened = threading.Event()
    run = manager._Build._run

    def gated(self, rowids, vectors):
        opened.wait(30)
        run(self, rowids, vectors)

    monkeypatch.setattr(manager._Build, "_run", gated)
    return opened


def unit(rng, n):
    x = rng.normal(size=(n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def collection_with_lost_index(tmp_path):
    """A collection whose HNSW index files are gone, reopened: the next search rebuilds."""
    vectors = unit(np.random.default_rng(0), N)
    col = embkit.create(tmp_path / "c", model=None, dim=DIM)
    col.add(ids=[f"d{i}" for i in range(N)], vectors=vectors)
    col.build_index("hnsw:M=16,efc=100,ef=64")
    col.close()
    (tmp_path / "c" / "index" / "text" / persist.MANIFEST).unlink()
    return embkit.open(tmp_path / "c"), vectors


def exact(vectors, ids, q, k):
    return [ids[i] for i in np.argsort(-(vectors @ q), kind="stable")[:k]]


def test_search_is_exact_while_the_index_builds_then_adopts_it(tmp_path, gate):
    col, vectors = collection_with_lost_index(tmp_path)
    ids = [f"d{i}" for i in range(N)]
    q = vectors[7]
    assert [h.id for h in col.search(vector=q, k=10)] == exact(vectors, ids, q, 10)
    assert col.info()["index"]["building"] is True
    assert col._index.index.kind == "flat"  # the stopgap

    fresh = unit(np.random.default_rng(1), 20)  # writes during the build are seen at once
    col.add(ids=[f"new{i}" for i in range(20)], vectors=fresh)
    col.delete([f"d{i}" for i in range(0, N, 2)])
    assert col.search(vector=fresh[3], k=1)[0].id == "new3"
    assert all(int(h.id[1:]) % 2 == 1 for h in col.search(vector=q, k=50) if h.id.startswith("d"))

    gate.set()
    col.refresh_index()  # waits for the build, adopts it, catches up with the writes above
    info = col.info()["index"]
    assert (info["building"], info["kind"], info["current"]) == (False, "hnsw", True)
    assert col._index.index.kind == "hnsw" and col._index.index.ntotal == N // 2 + 20
    assert col.search(vector=fresh[3], k=1)[0].id == "new3"
    hits = col.search(vector=q, k=50)
    assert len(hits) == 50 and all(int(h.id[1:]) % 2 == 1 for h in hits if h.id.startswith("d"))
    col.close()

    reopened = embkit.open(tmp_path / "c")  # saved at the store's generation: loaded, not rebuilt
    info = reopened.info()["index"]
    assert (info["persisted"], info["current"], info["kind"]) == (True, True, "hnsw")
    reopened.close()


def test_close_waits_for_the_build_and_saves_it(tmp_path, gate):
    col, vectors = collection_with_lost_index(tmp_path)
    col.search(vector=vectors[0], k=1)
    assert col.info()["index"]["building"] is True
    threading.Timer(0.2, gate.set).start()
    col.close()
    manifest = persist.read_manifest(tmp_path / "c" / "index" / "text")
    assert manifest is not None and manifest["kind"] == "hnsw" and manifest["count"] == N


def test_a_failed_build_is_reported_and_the_next_search_retries(tmp_path, gate, monkeypatch):
    col, vectors = collection_with_lost_index(tmp_path)
    monkeypatch.setattr(manager, "_fill", _broken_fill(manager._fill))
    col.search(vector=vectors[0], k=1)
    gate.set()
    with pytest.raises(MemoryError, match="simulated"):
        col.refresh_index()
    assert col.info()["index"]["building"] is False
    monkeypatch.undo()  # the next search rebuilds (exactly meanwhile) and succeeds
    assert col.search(vector=vectors[9], k=1)[0].id == "d9"
    col.refresh_index()
    assert col._index.index.kind == "hnsw"
    col.close()


def _broken_fill(fill):
    def broken(index, rowids, vectors, progress):
        if index.kind != "flat":
            raise MemoryError("simulated: out of memory while building")
        fill(index, rowids, vectors, progress)
    return broken


def test_a_worn_out_index_keeps_serving_while_its_successor_builds(tmp_path, gate):
    vectors = unit(np.random.default_rng(0), N)
    col = embkit.create(tmp_path / "c", model=None, dim=DIM)
    col.add(ids=[f"d{i}" for i in range(N)], vectors=vectors)
    col.build_index("hnsw:M=16,efc=100,ef=64")
    old = col._index.index
    col.delete([f"d{i}" for i in range(N // 2)])  # half dead: compaction is due
    hits = col.search(vector=vectors[N - 1], k=5)
    assert hits[0].id == f"d{N - 1}" and all(int(h.id[1:]) >= N // 2 for h in hits)
    assert col._index.index is old and col.info()["index"]["building"] is True
    gate.set()
    col.refresh_index()
    assert col._index.index is not old and col._index.index.dead == 0
    assert col._index.index.ntotal == N - N // 2
    col.close()


def test_small_rebuilds_stay_in_the_calling_thread(tmp_path):
    vectors = unit(np.random.default_rng(0), 500)
    col = embkit.create(tmp_path / "c", model=None, dim=DIM)
    col.add(ids=[f"d{i}" for i in range(500)], vectors=vectors)
    col.build_index("hnsw:M=16,efc=100,ef=64")
    col.close()
    (tmp_path / "c" / "index" / "text" / persist.MANIFEST).unlink()
    col = embkit.open(tmp_path / "c")
    col.search(vector=vectors[0], k=1)
    assert col._index.index.kind == "hnsw" and col.info()["index"]["building"] is False
    col.close()


def test_a_big_catch_up_is_a_background_rebuild(tmp_path, gate):
    """Spec set on an empty collection, then many adds: the first search does not add
    them one batch at a time in the caller's thread; it rebuilds in the background."""
    col = embkit.create(tmp_path / "c", model=None, dim=DIM)
    col.build_index("hnsw:M=16,efc=100,ef=64")
    vectors = unit(np.random.default_rng(0), 1500)
    col.add(ids=[f"d{i}" for i in range(1500)], vectors=vectors)
    assert col.search(vector=vectors[42], k=1)[0].id == "d42"
    assert col._index.index.kind == "flat" and col.info()["index"]["building"] is True
    more = unit(np.random.default_rng(1), 1200)  # a second big batch while building: caught up, no second build
    col.add(ids=[f"m{i}" for i in range(1200)], vectors=more)
    assert col.search(vector=more[5], k=1)[0].id == "m5"
    build = col._index._building
    gate.set()
    col.refresh_index()
    assert build.thread.is_alive() is False and col._index.index.kind == "hnsw"
    assert col._index.index.ntotal == 2700 and col.search(vector=more[5], k=1)[0].id == "m5"
    col.close()


def test_index_knobs_while_the_index_builds(tmp_path, gate):
    """The exact stand-in takes the knobs of the kind being built (it ignores them: it is
    exact) and refuses what that kind refuses; a flat index the user chose refuses them."""
    col, vectors = collection_with_lost_index(tmp_path)
    ids = [f"d{i}" for i in range(N)]
    q = vectors[7]
    assert [h.id for h in col.search(vector=q, k=5, ef=32)] == exact(vectors, ids, q, 5)  # plain path
    assert col._index.index.kind == "flat" and col.info()["index"]["building"] is True
    assert [h.id for h in col.search(vector=q, k=5, ef=32, documents=True)] == exact(vectors, ids, q, 5)  # pipeline
    with pytest.raises(embkit.EmbkitError, match="^nprobe: not a search parameter of the hnsw index"):
        col.search(vector=q, k=5, nprobe=4)
    with pytest.raises(embkit.EmbkitError, match="^ef: "):
        col.search(vector=q, k=5, ef=0)
    gate.set()
    col.refresh_index()
    assert col._index.index.kind == "hnsw" and col._index.index.stands_in_for is None
    assert col.search(vector=q, k=5, ef=32)[0].id == "d7"
    col.build_index("flat")
    with pytest.raises(embkit.EmbkitError, match="^ef: not a search parameter of the flat index"):
        col.search(vector=q, k=5, ef=32)
    col.close()


def test_an_old_index_standing_in_takes_its_own_widened_knobs(monkeypatch):
    """`auto` crossing HNSW -> sq8: the old HNSW serves during the build. A broad filter
    widens its ef (dense._widened): not refused as a knob sq8 lacks, though the user
    passed none; a knob neither kind takes is still refused for the kind being built."""
    from embkit.index import make_index
    from embkit.index.spec import parse_spec
    from embkit.search import dense

    vectors = unit(np.random.default_rng(0), 2000)
    index = make_index(parse_spec("hnsw:M=16,efc=100,ef=64"), DIM, "cosine")
    index.train_on(vectors)
    index.add(np.arange(2000), vectors)
    index.stands_in_for = "sq8"
    monkeypatch.setattr(dense, "EXACT_FILTER_LIMIT", 0)  # a broad filter: the index searched, ef widened
    monkeypatch.setattr(dense, "EXACT_FILTER_SHARE", 0.0)
    allow = np.arange(0, 2000, 2)
    fetch = lambda rows: (rows, vectors[rows])  # noqa: E731
    found, _ = dense.dense_search(index, vectors[4], 3, fetch, allow=allow)
    assert found[0] == 4 and all(r % 2 == 0 for r in found.tolist())
    assert dense.dense_search(index, vectors[4], 3, fetch, allow=allow, ef=32)[0][0] == 4
    with pytest.raises(embkit.EmbkitError, match="^nprobe: not a search parameter of the sq8 index"):
        dense.dense_search(index, vectors[4], 3, fetch, nprobe=4)
