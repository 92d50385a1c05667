"""The store's change log (`changes`: which rows each generation touched) is kept only as
far back as a saved index needs it. A flat index is never saved, so it needs none: it
prunes the log when it is saved (closing; a search never waits for the write lock to
prune it), but never past the generation of a saved index of another space or
Matryoshka view (issue 21, disk per document)."""

import sqlite3

import numpy as np

import embkit
from embkit.index import persist
from embkit.store import DB_NAME
from embkit.store.sqlite import SQLiteStore

DIM = 32


def unit(rng, n):
    x = rng.normal(size=(n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def logged(path) -> list[tuple[int, int]]:
    db = sqlite3.connect(path / DB_NAME)
    try:
        return db.execute("SELECT generation, doc FROM changes ORDER BY generation, doc").fetchall()
    finally:
        db.close()


def test_a_flat_collection_keeps_no_log_row_per_document(tmp_path):
    path, rng = tmp_path / "c", np.random.default_rng(0)
    col = embkit.create(path, model=None, dim=DIM)
    for batch in range(3):
        col.add(ids=[f"b{batch}-{i}" for i in range(200)], vectors=unit(rng, 200))
    assert len(logged(path)) == 600  # what every write logs
    assert col.search(vector=unit(rng, 1)[0], k=1)
    assert len(logged(path)) == 600  # a search never waits for the write lock to prune
    col.upsert(ids=[f"b0-{i}" for i in range(50)], vectors=unit(rng, 50))
    col.delete([f"b1-{i}" for i in range(10)])
    new = unit(rng, 1)[0]
    col.add(ids=["new"], vectors=new[None])
    assert col.search(vector=new, k=1)[0].id == "new"  # caught up through the log
    col.close()
    assert logged(path) == []
    with embkit.open(path) as col:
        assert col.count() == 591 and col.search(vector=new, k=1)[0].id == "new"


def test_a_flat_index_keeps_what_a_saved_view_catches_up_from(tmp_path):
    path, rng = tmp_path / "c", np.random.default_rng(1)
    col = embkit.create(path, model=None, dim=DIM)
    col.add(ids=[f"d{i}" for i in range(300)], vectors=unit(rng, 300))
    col.build_index("hnsw:M=8,efc=16", dims=16)  # a saved index of the 16-d view
    col.search(vector=unit(rng, 1)[0], k=1)  # the full space's flat index
    new = unit(rng, 5)
    col.add(ids=[f"n{i}" for i in range(5)], vectors=new)
    assert col.search(vector=new[0], k=1)[0].id == "n0"  # the flat index catches up and, saved, prunes
    col.close()
    view = [persist.read_manifest(f) for f in (path / "index").iterdir() if (f / persist.MANIFEST).exists()]
    store = SQLiteStore.open(path)
    try:
        assert len(view) == 1 and view[0]["generation"] == store.generation - 1  # saved before the last add
        rows = [row for _, row in logged(path)]
        assert len(rows) == 5 and len(set(rows)) == 5  # what the view catches up from is still there
        since = store.changed_since(view[0]["generation"])
        assert since is not None and sorted(since.tolist()) == sorted(rows)
    finally:
        store.close()
    with embkit.open(path) as col:
        assert col.search(vector=new[0], k=1, dims=16)[0].id == "n0"
