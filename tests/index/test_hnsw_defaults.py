"""HNSW's defaults became M=16, ef=128 (issue 21, disk per document: the saved graph is
2*M links a node, half of M=32's). An index saved with the old defaults (M=32, ef=64)
keeps them: it loads, searches the same and catches up as before; a new build takes the
new ones."""

import numpy as np
import pytest

import embkit
from embkit.index import persist, spec as spec_module
from embkit.index.spec import parse_spec

DIM = 32
N = 3000
OLD = {"M": (32, 4, 256), "efc": (200, 8, 4096), "ef": (64, 1, 32768)}  # the defaults before issue 21


def unit(rng, n):
    x = rng.normal(size=(n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


VECTORS = unit(np.random.default_rng(0), N)
QUERIES = unit(np.random.default_rng(1), 20)


@pytest.fixture(autouse=True)
def hnsw_under_auto(monkeypatch):
    """`auto` chooses HNSW for these 3,000 vectors (the real threshold is 50,000)."""
    monkeypatch.setattr(spec_module, "AUTO_HNSW_ABOVE", 1000)


def make(path):
    col = embkit.create(path, model=None, dim=DIM)
    col.add(ids=[f"d{i}" for i in range(N)], vectors=VECTORS)
    return col


def answers(col):
    return [[(h.id, round(float(h.score), 6)) for h in col.search(vector=q, k=10)] for q in QUERIES]


def links_at_level0(col) -> int:
    return col._index.index._faiss.hnsw.nb_neighbors(0)


def graph_bytes(path) -> int:
    manifest = persist.read_manifest(path / "index" / "text")
    return manifest["files"]["faiss"]["bytes"]


def test_defaults_are_m16_ef128():
    assert str(parse_spec("hnsw")) == "hnsw:M=16,efc=200,ef=128"
    assert parse_spec("hnsw:M=32,ef=64").params == {"M": 32, "efc": 200, "ef": 64}


def test_auto_builds_the_new_default_and_its_graph_file_is_about_half(tmp_path, monkeypatch):
    new = make(tmp_path / "new")
    new.search(vector=QUERIES[0], k=1)
    assert links_at_level0(new) == 32 and new.info()["index"]["spec"] == "hnsw:M=16,efc=200,ef=128"
    new.close()
    monkeypatch.setitem(spec_module.PARAMS, "hnsw", OLD)
    old = make(tmp_path / "old")
    old.search(vector=QUERIES[0], k=1)
    assert links_at_level0(old) == 64
    old.close()
    assert graph_bytes(tmp_path / "new") < 0.6 * graph_bytes(tmp_path / "old")


def test_an_index_saved_with_the_old_defaults_opens_and_searches_the_same(tmp_path, monkeypatch):
    path = tmp_path / "c"
    with monkeypatch.context() as old_release:
        old_release.setitem(spec_module.PARAMS, "hnsw", OLD)
        col = make(path)
        before = answers(col)  # builds the `auto` index: HNSW with the old defaults
        assert col.info()["index"]["spec"] == "hnsw:M=32,efc=200,ef=64"
        col.close()
    assert str(parse_spec("hnsw")) == "hnsw:M=16,efc=200,ef=128"  # today's defaults from here on
    col = embkit.open(path)
    assert answers(col) == before
    assert links_at_level0(col) == 64 and col._index.index.params == {"M": 32, "efc": 200, "ef": 64}
    assert col.info()["index"]["spec"] == "hnsw:M=32,efc=200,ef=64" and col.info()["index"]["current"] is True
    col.add(ids=["new"], vectors=VECTORS[:1] * -1)  # caught up in the old graph, not rebuilt
    assert col.search(vector=-VECTORS[0], k=1)[0].id == "new" and links_at_level0(col) == 64
    col.close()
    col = embkit.open(path)
    assert col.search(vector=-VECTORS[0], k=1)[0].id == "new" and links_at_level0(col) == 64
    col._index.rebuild()  # a rebuild (compact, repair) takes today's defaults
    assert links_at_level0(col) == 32 and col.info()["index"]["spec"] == "hnsw:M=16,efc=200,ef=128"
    assert col.search(vector=-VECTORS[0], k=1)[0].id == "new"
    col.close()


def test_an_explicit_spec_written_with_the_old_defaults_keeps_them_on_rebuild(tmp_path, monkeypatch):
    """`build_index("hnsw")` stored the spec with its defaults filled in: a rebuild keeps M=32."""
    path = tmp_path / "c"
    with monkeypatch.context() as old_release:
        old_release.setitem(spec_module.PARAMS, "hnsw", OLD)
        col = make(path)
        col.build_index("hnsw")
        col.close()
    col = embkit.open(path)
    assert col.info()["index"]["configured"] == "hnsw:M=32,efc=200,ef=64"
    col._index.rebuild()
    assert links_at_level0(col) == 64
    col.close()
