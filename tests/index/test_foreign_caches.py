"""Derived files are trusted only by the collection that wrote them (issue 19, item 7):
each records the collection's identity (a UUID in the store), so another collection's
index/ or keyword/ copied in at the same generation is rebuilt, not used; and a stray
file where a cache folder belongs is replaced, not an error."""

import shutil
import sqlite3
import warnings
from contextlib import closing

import numpy as np
import pytest

import embkit
from embkit.index import persist
from embkit.store.schema import IDENTITY_KEY

DIM = 16
N = 1000
SPEC = "hnsw:M=16,efc=200,ef=256"
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "kappa", "lambda", "sigma"]


def corpus(seed: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, size=4)) + f" item{i}" for i in range(N)]
    return texts, rng.normal(size=(N, DIM)).astype(np.float32)


def make(location, seed: int, spec: str | None = SPEC):
    """A collection of N documents in one batch (generation 1), its vector index (if
    `spec`) and keyword index saved; returns its texts and stored (unit) vectors."""
    texts, vectors = corpus(seed)
    with embkit.create(location, model=None, dim=DIM) as col:
        col.add(texts, ids=[f"d{i}" for i in range(N)], vectors=vectors)
        if spec:
            col.build_index(spec)
        col.search("alpha", k=1, mode="keyword")
    return texts, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def exact_top(vectors: np.ndarray, query: np.ndarray, k: int) -> list[str]:
    return [f"d{i}" for i in np.argsort(-(vectors @ query), kind="stable")[:k]]


def queries() -> np.ndarray:
    return np.random.default_rng(99).normal(size=(20, DIM)).astype(np.float32)


def keyword_hits(col) -> list[list[str]]:
    return [[h.id for h in col.search(word, k=10, mode="keyword")] for word in WORDS]


def test_another_collections_index_and_keyword_files_are_rebuilt(tmp_path, one_thread):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    _, vectors = make(ours, seed=1)
    make(theirs, seed=2)
    with embkit.open(ours) as col:
        own_keyword = keyword_hits(col)
    # The same generation, the same file names: only the identity differs. (The keyword
    # index lives in the store itself since schema 3: there is no file of it to copy.)
    assert persist.read_manifest(ours / "index" / "text")["generation"] == 1
    shutil.rmtree(ours / "index")
    shutil.copytree(theirs / "index", ours / "index")

    with warnings.catch_warnings(record=True) as caught, embkit.open(ours) as col:
        warnings.simplefilter("always")
        for q in queries():
            unit = q / np.linalg.norm(q)
            assert [h.id for h in col.search(vector=q, k=10)] == exact_top(vectors, unit, 10)
        assert keyword_hits(col) == own_keyword
    messages = [str(w.message) for w in caught]
    assert sum("built for another collection" in m for m in messages) == 1, messages

    with embkit.open(ours) as col:  # rebuilt and saved as ours: trusted from now on
        identity = col._store.identity
        assert persist.read_manifest(ours / "index" / "text")["collection"] == identity


def test_identity_is_kept_and_an_older_collection_gets_one(tmp_path):
    folder = tmp_path / "c"
    make(folder, seed=1)
    with embkit.open(folder) as col:
        first = col._store.identity
        assert len(first) == 32 and first == col._store.identity
    with embkit.open(folder) as col:
        assert col._store.identity == first
        col._store.set_meta(IDENTITY_KEY, None)  # as a collection made before identities
    with embkit.open(folder) as col:
        second = col._store.identity
        assert second is not None and second != first and col._store.meta(IDENTITY_KEY) == second
        with pytest.warns(UserWarning, match="built for another collection"):  # files stamped with the old one
            col.search(vector=np.ones(DIM, dtype=np.float32), k=1)


def test_identity_is_read_once_per_store(backend):
    """Every cache load and save asks for the identity: a store reads it from its
    database once (changed behind its back, it keeps the one it read; a new store reads anew)."""
    location = backend("c")
    with embkit.create(location, model=None, dim=DIM) as col:
        first = col._store.identity
        with embkit.open(location) as other:
            other._store.set_meta(IDENTITY_KEY, "f" * 32)
        assert col._store.identity == first != "f" * 32
        col.add(ids=["a", "b"], vectors=np.eye(2, DIM, dtype=np.float32))
        col.build_index("flat")
        assert col.search(vector=np.eye(1, DIM, dtype=np.float32)[0], k=1)[0].id == "a"
        assert col._store.identity == first
    with embkit.open(location) as col:
        assert col._store.identity == "f" * 32


def test_an_index_ahead_of_the_store_is_rebuilt(tmp_path, one_thread):
    """The database put back from an older copy: the saved index holds a document the
    store no longer has, and must not be trusted to find it."""
    folder = tmp_path / "c"
    _, vectors = make(folder, seed=1)
    with closing(sqlite3.connect(folder / "embkit.db")) as db, closing(sqlite3.connect(tmp_path / "copy.db")) as copy:
        db.backup(copy)  # generation 1
    with embkit.open(folder) as col:
        col.add(["gone"], ids=["gone"], vectors=np.ones((1, DIM), dtype=np.float32))
        col.search(vector=np.ones(DIM, dtype=np.float32), k=1)
    assert persist.read_manifest(folder / "index" / "text")["generation"] == 2
    for suffix in ("", "-wal", "-shm"):
        (folder / f"embkit.db{suffix}").unlink(missing_ok=True)
    shutil.copy(tmp_path / "copy.db", folder / "embkit.db")
    q = np.ones(DIM, dtype=np.float32)
    with pytest.warns(UserWarning, match="ahead of the store"), embkit.open(folder) as col:
        assert [h.id for h in col.search(vector=q, k=10)] == exact_top(vectors, q / np.linalg.norm(q), 10)


@pytest.mark.parametrize("stray", ["index/text", "index"])
def test_a_file_where_the_index_folder_belongs_is_replaced(tmp_path, stray, one_thread):
    folder = tmp_path / "c"
    _, vectors = make(folder, seed=1)
    shutil.rmtree(folder / "index")
    (folder / stray).parent.mkdir(parents=True, exist_ok=True)
    (folder / stray).write_text("not a folder")
    q = queries()[0]
    with pytest.warns(UserWarning, match="is a file where a cache folder belongs"), embkit.open(folder) as col:
        assert [h.id for h in col.search(vector=q, k=10)] == exact_top(vectors, q / np.linalg.norm(q), 10)
    manifest = persist.read_manifest(folder / "index" / "text")
    assert manifest["kind"] == "hnsw" and manifest["count"] == N
    with embkit.open(folder) as col:  # the saved index is used as it is
        col.search(vector=q, k=1)
        assert col._index.info()["current"] is True and col._index.generation == manifest["generation"]
