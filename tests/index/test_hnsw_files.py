"""An HNSW index saved without its vectors (issue 21, disk per document): the file holds
the graph, the store holds the vectors, and loading refills them in the index's order.
Dead entries' vectors (deleted or replaced rows) are kept in a small side file."""

import json
import shutil
import warnings
from contextlib import closing

import numpy as np
import pytest

import embkit
from embkit.index import persist
from embkit.store.sqlite import SQLiteStore

DIM = 384
N = 3000
SPEC = "hnsw:M=32,efc=40,ef=64"


def unit(rng, n):
    x = rng.normal(size=(n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


VECTORS = unit(np.random.default_rng(0), N)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """The collection with its HNSW index saved, built once; each test opens a copy."""
    path = tmp_path_factory.mktemp("hnsw") / "c"
    col = embkit.create(path, model=None, dim=DIM)
    col.add(ids=[f"d{i}" for i in range(N)], vectors=VECTORS)
    col.build_index(SPEC)
    col.close()
    return path


@pytest.fixture
def make(template):
    def opened(path):
        shutil.copytree(template, path)
        return embkit.open(path), VECTORS
    return opened


def folder_bytes(folder):
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def queries(seed=1, n=25):
    return unit(np.random.default_rng(seed), n)


def saved(path):
    return persist.read_manifest(path / "index" / "text")


def test_the_saved_folder_holds_the_graph_not_the_vectors(tmp_path, make):
    col, _ = make(tmp_path / "c")
    col.close()
    folder = tmp_path / "c" / "index" / "text"
    manifest = saved(tmp_path / "c")
    assert manifest["vectors"] == "store" and manifest["kind"] == "hnsw"
    assert sorted(manifest["files"]) == ["dead", "faiss", "live", "rowids"]
    assert folder_bytes(folder) < 0.3 * N * DIM * 4  # the vectors alone would be N * DIM * 4


def test_reloaded_index_answers_exactly_as_before_saving(tmp_path, make):
    col, _ = make(tmp_path / "c")
    before = col._index.rebuild()  # built in memory (and saved)
    expected = before.search(queries(), 20)
    stored = before._faiss.reconstruct_n(0, len(before.rowids))
    col.close()
    with embkit.open(tmp_path / "c") as again, warnings.catch_warnings():
        warnings.simplefilter("error")  # no "unusable; rebuilding"
        loaded = again._index.current()
        assert type(loaded) is type(before) and loaded.effective_spec == SPEC
        got = loaded.search(queries(), 20)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])
        np.testing.assert_array_equal(loaded._faiss.reconstruct_n(0, len(loaded.rowids)), stored)


def test_after_deletes_and_upserts_dead_entries_come_back_from_the_side_file(tmp_path, make):
    col, vectors = make(tmp_path / "c")
    rng = np.random.default_rng(5)
    col.delete([f"d{i}" for i in range(0, 300, 3)])  # 100 rows gone from the store
    replaced = [f"d{i}" for i in range(1, 300, 3)]  # 100 rows whose vector changes in place
    col.upsert(ids=replaced, vectors=unit(rng, len(replaced)))
    col.add(ids=[f"new{i}" for i in range(50)], vectors=unit(rng, 50))
    before = col._index.current()
    assert before.dead == 200 and before.ntotal == N - 100 + 50
    expected = before.search(queries(), 20)
    expected_filtered = before.search(queries(), 10, allow=before.rowids[::7])
    stored = before._faiss.reconstruct_n(0, len(before.rowids))
    col.close()
    manifest = saved(tmp_path / "c")
    assert manifest["dead"] == 200
    assert manifest["files"]["dead"]["bytes"] == 128 + 200 * DIM * 4  # .npy header + the dead entries only
    with embkit.open(tmp_path / "c") as again, warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = again._index.current()
        assert (loaded.dead, loaded.ntotal) == (200, N - 100 + 50)
        np.testing.assert_array_equal(loaded._faiss.reconstruct_n(0, len(loaded.rowids)), stored)
        for got, want in ((loaded.search(queries(), 20), expected),
                          (loaded.search(queries(), 10, allow=before.rowids[::7]), expected_filtered)):
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])


def test_rows_changed_after_the_save_are_caught_up(tmp_path, make):
    """Another process wrote without touching the index: the saved state is behind the
    store, its live entries for changed rows are estimated, then hidden by catching up."""
    col, vectors = make(tmp_path / "c")
    col.close()
    rng = np.random.default_rng(7)
    with closing(SQLiteStore.open(tmp_path / "c")) as store:  # the store alone: the index stays as saved
        new = unit(rng, 40)
        rows = store.by_rowids(store.rowids())
        store.delete([f"d{i}" for i in range(40)])
        upserted = [rows[r] for r in sorted(rows)[40:80]]
        store.write(upserted, "text", new, upsert=True)
        assert store.generation > saved(tmp_path / "c")["generation"]
    with embkit.open(tmp_path / "c") as again, warnings.catch_warnings():
        warnings.simplefilter("error")
        index = again._index.current()
        assert (index.ntotal, index.dead) == (N - 40, 80)
        for i in range(40):  # each replaced vector is found at its new place, the deleted rows never
            hits = again.search(vector=new[i], k=3)
            assert hits[0].id == upserted[i].id and hits[0].score == pytest.approx(1.0, abs=1e-5)
        ids, _ = index.search(vectors[:40], 5)
        assert not np.isin(ids, [r for r in sorted(rows)[:40]]).any()


def test_a_store_behind_the_saved_index_still_rebuilds_it(tmp_path, make):
    col, vectors = make(tmp_path / "c")
    col.close()
    shutil.copy(tmp_path / "c" / "embkit.db", tmp_path / "older.db")
    with embkit.open(tmp_path / "c") as col:  # the index moves on to a later generation, and is saved
        col.add(ids=["late"], vectors=unit(np.random.default_rng(3), 1))
        col.search(vector=vectors[0], k=1)
    for suffix in ("-wal", "-shm"):
        (tmp_path / "c" / f"embkit.db{suffix}").unlink(missing_ok=True)
    shutil.copy(tmp_path / "older.db", tmp_path / "c" / "embkit.db")  # the store put back from an older copy
    with embkit.open(tmp_path / "c") as col, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hits = col.search(vector=vectors[7], k=1)
        assert any("ahead of the store" in str(w.message) for w in caught)
        assert hits[0].id == "d7" and col._index.current().ntotal == N


@pytest.mark.parametrize("damage", ["dead-missing", "dead-flipped", "faiss-truncated"])
def test_a_damaged_file_is_rebuilt_with_a_warning(tmp_path, damage, make):
    col, vectors = make(tmp_path / "c")
    col.delete(["d1", "d2"])
    col.close()
    folder, manifest = tmp_path / "c" / "index" / "text", saved(tmp_path / "c")
    if damage == "dead-missing":
        (folder / manifest["files"]["dead"]["name"]).unlink()
    elif damage == "dead-flipped":
        path = folder / manifest["files"]["dead"]["name"]
        raw = bytearray(path.read_bytes())
        raw[-5] ^= 0xFF
        path.write_bytes(bytes(raw))
    else:
        path = folder / manifest["files"]["faiss"]["name"]
        path.write_bytes(path.read_bytes()[:1000])
    with embkit.open(tmp_path / "c") as col, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hits = col.search(vector=vectors[9], k=1)
        assert any("rebuilding it from the store" in str(w.message) for w in caught)
        assert hits[0].id == "d9" and col._index.current().ntotal == N - 2
    assert saved(tmp_path / "c")["dead"] == 0


def test_a_state_saved_with_its_vectors_still_loads(tmp_path, make):
    """A state written with its vectors in the file (format 2, or saved without a store)."""
    col, _ = make(tmp_path / "c")
    before = col._index.current()
    expected = before.search(queries(), 10)
    col.close()
    folder = tmp_path / "c" / "index" / "text"
    manifest = saved(tmp_path / "c")
    persist.save(before, folder, manifest["generation"], "text", manifest["collection"])
    old = json.loads((folder / persist.MANIFEST).read_text())
    assert old["vectors"] == "file" and "dead" not in old["files"]
    old["format"] = 2
    del old["vectors"]
    (folder / persist.MANIFEST).write_text(json.dumps(old))
    assert persist.load(folder, old).search(queries(), 10)[0].tolist() == expected[0].tolist()
    with embkit.open(tmp_path / "c") as again, warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(again._index.current().search(queries(), 10)[0], expected[0])


def test_loading_without_the_store_is_refused(tmp_path, make):
    col, _ = make(tmp_path / "c")
    col.close()
    folder = tmp_path / "c" / "index" / "text"
    with pytest.raises(persist.IndexUnreadable, match="its vectors are in the store"):
        persist.load(folder, saved(tmp_path / "c"))


@pytest.mark.parametrize("metric", ["l2", "dot"])
def test_other_metrics_reload_exactly(tmp_path, metric):
    vectors = np.random.default_rng(4).normal(size=(1500, 32)).astype(np.float32)
    col = embkit.create(tmp_path / "c", model=None, dim=32, metric=metric)
    col.add(ids=[f"d{i}" for i in range(1500)], vectors=vectors)
    col.build_index("hnsw:M=16,efc=40")
    col.delete(["d3", "d4"])
    col.upsert(ids=["d5"], vectors=vectors[6:7] * 2)
    before = col._index.current()
    probes = vectors[:20] + 0.1
    expected = before.search(probes, 10)
    col.close()
    with embkit.open(tmp_path / "c") as again, warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = again._index.current()
        assert (loaded.kind, loaded.dead, loaded.metric) == ("hnsw", 3, metric)
        got = loaded.search(probes, 10)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])


def test_a_matryoshka_view_refills_its_truncated_vectors(tmp_path):
    vectors = unit(np.random.default_rng(8), 1500)
    col = embkit.create(tmp_path / "c", model=None, dim=DIM)
    col.add(ids=[f"d{i}" for i in range(1500)], vectors=vectors)
    col.build_index("hnsw:M=16,efc=40", dims=64)
    col.delete(["d1"])
    expected = [[h.id for h in col.search(vector=q, k=5, dims=64)] for q in queries(n=5)]
    before = col._views(64).current()
    stored = before._faiss.reconstruct_n(0, len(before.rowids))
    col.close()
    assert persist.read_manifest(tmp_path / "c" / "index" / "text@64")["vectors"] == "store"
    with embkit.open(tmp_path / "c") as again, warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [[h.id for h in again.search(vector=q, k=5, dims=64)] for q in queries(n=5)] == expected
        loaded = again._views(64).current()
        assert loaded.dim == 64 and loaded.dead == 1
        np.testing.assert_array_equal(loaded._faiss.reconstruct_n(0, len(loaded.rowids)), stored)
