"""The same for an IVF-flat index (issue 21, disk per document): its file holds the
quantizer and empty lists, `lists-G.npy` which list holds each entry in what order,
and the vectors come back from the store on load."""

import warnings
from contextlib import closing

import numpy as np
import pytest

import embkit
from embkit.index import persist
from embkit.store.sqlite import SQLiteStore

DIM = 384
N = 3000
SPEC = "ivf:nlist=32,nprobe=8"


def unit(rng, n):
    x = rng.normal(size=(n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


VECTORS = unit(np.random.default_rng(0), N)
QUERIES = unit(np.random.default_rng(1), 25)


def make(path):
    col = embkit.create(path, model=None, dim=DIM)
    col.add(ids=[f"d{i}" for i in range(N)], vectors=VECTORS)
    return col


def test_saved_ivf_folder_holds_no_vectors_and_reloads_exactly_after_deletes_and_upserts(tmp_path):
    col = make(tmp_path / "c")
    col.build_index(SPEC)
    rng = np.random.default_rng(5)
    col.delete([f"d{i}" for i in range(0, 300, 3)])
    col.upsert(ids=[f"d{i}" for i in range(1, 300, 3)], vectors=unit(rng, 100))
    col.add(ids=[f"new{i}" for i in range(50)], vectors=unit(rng, 50))
    before = col._index.current()
    assert (before.dead, before.ntotal) == (200, N - 100 + 50)
    expected = before.search(QUERIES, 20)
    expected_filtered = before.search(QUERIES, 10, allow=before.rowids[::7])
    col.close()
    folder, manifest = tmp_path / "c" / "index" / "text", persist.read_manifest(tmp_path / "c" / "index" / "text")
    assert manifest["vectors"] == "store" and sorted(manifest["files"]) == ["faiss", "lists", "live", "rowids"]
    assert sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) < 0.1 * (N + 50) * DIM * 4
    with embkit.open(tmp_path / "c") as again, warnings.catch_warnings():
        warnings.simplefilter("error")  # no "unusable; rebuilding"
        loaded = again._index.current()
        assert (loaded.kind, loaded.dead, loaded.ntotal) == ("ivf", 200, N - 100 + 50)
        for got, want in ((loaded.search(QUERIES, 20), expected),
                          (loaded.search(QUERIES, 10, allow=before.rowids[::7]), expected_filtered)):
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])


def test_rows_changed_after_the_save_are_caught_up(tmp_path):
    col = make(tmp_path / "c")
    col.build_index(SPEC)
    col.close()
    new = unit(np.random.default_rng(7), 20)
    with closing(SQLiteStore.open(tmp_path / "c")) as store:  # the store alone: the index stays as saved
        rows = store.by_rowids(store.rowids())
        store.delete([f"d{i}" for i in range(20)])
        upserted = [rows[r] for r in sorted(rows)[20:40]]
        store.write(upserted, "text", new, upsert=True)
    with embkit.open(tmp_path / "c") as again, warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (again._index.current().ntotal, again._index.current().dead) == (N - 20, 40)
        for i in range(20):
            hit = again.search(vector=new[i], k=1)[0]
            assert hit.id == upserted[i].id and hit.score == pytest.approx(1.0, abs=1e-5)
        assert again.search(vector=VECTORS[3], k=1)[0].id != "d3"  # deleted


@pytest.mark.parametrize("damage", ["lists-missing", "lists-flipped"])
def test_a_damaged_lists_file_is_rebuilt_with_a_warning(tmp_path, damage):
    col = make(tmp_path / "c")
    col.build_index(SPEC)
    col.close()
    folder = tmp_path / "c" / "index" / "text"
    path = folder / persist.read_manifest(folder)["files"]["lists"]["name"]
    if damage == "lists-missing":
        path.unlink()
    else:
        raw = bytearray(path.read_bytes())
        raw[-3] ^= 0xFF
        path.write_bytes(bytes(raw))
    with embkit.open(tmp_path / "c") as again, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert again.search(vector=VECTORS[9], k=1)[0].id == "d9"
        assert any("rebuilding it from the store" in str(w.message) for w in caught)
