"""`compact` (Python, CLI, HTTP): after deleting half of a collection its folder shrinks
by at least 40%, and nothing stored or found changes (ids, vectors, texts, metadata,
dense and keyword results); stale caches go, live ones stay; `info` splits the bytes."""

import json
import sqlite3

import numpy as np
import pytest

import embkit
from embkit.maintenance.compact import folder_bytes
from embkit.maintenance.sizes import human
from embkit.store import DB_NAME

from live_server import LiveServer, create_key, embkit_cli

N, DIM = 2000, 384
WORDS = "river stone cloud ember maple harbor lantern meadow quartz saffron tundra violet willow".split()


def texts(n: int) -> list[str]:
    return [" ".join(WORDS[(i * k) % len(WORDS)] for k in (1, 3, 7)) + f" item{i} " + "filler words " * 8
            for i in range(n)]


def make(path, spec: str = "sq8"):
    """A closed collection of N documents (texts, metadata, 384-d vectors) with a saved index."""
    vectors = np.random.default_rng(7).standard_normal((N, DIM)).astype(np.float32)
    col = embkit.create(path, model=None, dim=DIM)
    col.add(texts(N), ids=[f"d{i}" for i in range(N)], vectors=vectors,
            metadatas=[{"i": i, "even": i % 2 == 0} for i in range(N)])
    col.build_index(spec)
    col.close()
    return vectors


def everything(col) -> tuple:
    """Every record and vector, as plain values."""
    rows = col.get([f"d{i}" for i in range(N)])
    table = col.table()
    return ([(r.id, r.text, r.metadata) for r in rows],
            {i: v.tobytes() for i, v in zip(table.ids, table.vectors)})


def answers(col, vectors) -> tuple:
    dense = [[h.id for h in col.search(vector=vectors[i], k=10)] for i in range(1, 200, 10)]
    keyword = [[(h.id, round(h.score, 5)) for h in col.search(w + " item1", k=10, mode="keyword")] for w in WORDS]
    return dense, keyword


def test_compact_after_deleting_half_shrinks_the_folder_and_loses_nothing(tmp_path):
    path = tmp_path / "c"
    vectors = make(path)
    full = folder_bytes(path)
    with embkit.open(path) as col:
        col.delete(where={"even": True})
        assert col.count() == N // 2
        before = everything(col), answers(col, vectors)
        result = col.compact()
        assert result["after"] < result["before"]
        assert (everything(col), answers(col, vectors)) == before
    assert folder_bytes(path) <= 0.6 * full, (full, folder_bytes(path))
    with embkit.open(path) as col:  # and as reopened
        assert (everything(col), answers(col, vectors)) == before
        assert col.check().ok


def test_compact_keeps_an_index_with_few_deleted_entries_and_full_rebuilds_it(tmp_path):
    """A tenth deleted: too few for a search to rebuild the index by itself (a quarter),
    and for compact to pay for a rebuild (a fifth); `full=True` rebuilds it all the same."""
    path = tmp_path / "c"
    vectors = make(path)
    with embkit.open(path) as col:
        col.delete([f"d{i}" for i in range(0, N, 10)])
        before = everything(col), answers(col, vectors)
        assert col._index.current().dead == N // 10
        result = col.compact()
        assert result["indexes"] == [] and result["after"] < result["before"]
        assert result["kept"] == [{"space": "text", "dead": N // 10, "entries": N, "reason": (
            "10% of its entries deleted, under the 20% that pays for a rebuild (--full rebuilds it)")}]
        assert col._index.current().dead == N // 10
        assert (everything(col), answers(col, vectors)) == before
        assert col.compact(full=True)["indexes"] == ["text"]
        assert col._index.current().dead == 0
        assert (everything(col), answers(col, vectors)) == before
    with embkit.open(path) as col:
        assert col._index.current().dead == 0 and col._index.current().ntotal == N - N // 10


def test_compact_rebuilds_an_index_whose_deleted_entries_are_a_fifth(tmp_path):
    """22% deleted: under the quarter a search rebuilds at, over compact's fifth."""
    path = tmp_path / "c"
    vectors = make(path)
    with embkit.open(path) as col:
        col.delete([f"d{i}" for i in range(N) if i % 9 in (0, 4)])
        gone = len([i for i in range(N) if i % 9 in (0, 4)])
        before = everything(col), answers(col, vectors)
        assert col._index.current().dead == gone and gone > 0.2 * N
        result = col.compact()
        assert result["indexes"] == ["text"] and result["kept"] == []
        assert col._index.current().dead == 0 and col._index.current().ntotal == N - gone
        assert (everything(col), answers(col, vectors)) == before


def test_compact_removes_stale_caches_and_keeps_live_ones(tmp_path):
    path = tmp_path / "c"
    make(path)
    (path / "keyword" / "bm25-3").mkdir(parents=True)  # schema 2's bm25s cache
    (path / "keyword" / "bm25-3" / "vocab.index.json").write_text("{}")
    (path / "index" / "gone").mkdir()  # an index of a space no longer there
    (path / "index" / "gone" / "faiss-1.bin").write_bytes(b"x" * 100)
    live = sorted(p.name for p in (path / "index" / "text").iterdir())
    (path / "index" / "text" / "faiss-0.bin").write_bytes(b"x" * 100)  # an earlier state no manifest names
    projections = path / "analysis" / "projections"
    projections.mkdir(parents=True)
    with embkit.open(path) as col:
        generation = col.generation
        (projections / f"pca-g{generation - 1}-00aa.npz").write_bytes(b"old")
        (projections / f"pca-g{generation}-00bb.npz").write_bytes(b"current")
        result = col.compact()
    assert sorted(result["removed"]) == sorted(["keyword", "index/gone", "index/text/faiss-0.bin",
                                                f"analysis/projections/pca-g{generation - 1}-00aa.npz"])
    assert sorted(p.name for p in (path / "index" / "text").iterdir()) == live
    assert [p.name for p in projections.iterdir()] == [f"pca-g{generation}-00bb.npz"]
    assert result["indexes"] == []  # nothing deleted: no dead entries
    assert result["kept"] == [{"space": "text", "dead": 0, "entries": N, "reason": "no deleted entries"}]


def test_info_sizes_add_up_to_the_folder(tmp_path):
    path = tmp_path / "c"
    make(path)
    (path / "analysis").mkdir()
    (path / "analysis" / "labels.json").write_text("{}" * 50)
    with embkit.open(path) as col:
        col.search("river", mode="keyword", k=3)
        sizes = col.info()["sizes"]
        assert sizes["total"] == folder_bytes(path)
    assert sizes["store"] + sizes["vector_index"] + sizes["keyword_index"] + sizes["caches"] + sizes["other"] \
        == sizes["total"]
    assert sizes["other"] == 0 and sizes["caches"] == 100
    assert sizes["keyword_index"] > 0 and sizes["vector_index"] == folder_bytes(path / "index") > N * DIM  # sq8
    assert sizes["store"] > N * DIM * 4


def test_human_units():
    assert [human(n) for n in (0, 812, 1024, 13_002_342, 1536 * 2**30, 5 * 2**50)] == \
        ["0 B", "812 B", "1 KiB", "12.4 MiB", "1.5 TiB", "5120 TiB"]


def test_cli_compact_and_info(tmp_path):
    path = tmp_path / "c"
    make(path, spec="flat")
    with embkit.open(path) as col:
        col.delete(where={"even": True})
    done = embkit_cli("compact", str(path))
    assert done.returncode == 0, done.stderr
    line = done.stdout.splitlines()[0]
    assert line.startswith("compacted: ") and " MiB -> " in line and "% smaller" in line
    done = embkit_cli("compact", str(path), "--json")
    assert set(json.loads(done.stdout)) == {"backend", "before", "after", "indexes", "kept", "removed"}
    info = embkit_cli("info", str(path)).stdout
    assert "size: " in info and "(store " in info and "vector index " in info and "keyword index " in info
    # a flat index is never saved: 0 B on disk in the size line, its vectors' bytes in memory on its own line
    # (which printed them bare, so `info` seemed to give the index two sizes)
    assert "vector index 0 B" in info and [line.strip() for line in info.splitlines() if "index: " in line] == [
        f"index: flat (flat), {human(N // 2 * DIM * 4)} in memory, current"]
    done = embkit_cli("compact", str(tmp_path / "nothing"))
    assert done.returncode == 1 and done.stderr.startswith("error: path: no collection at")


def test_cli_compact_says_which_index_it_kept_and_full_rebuilds_it(tmp_path):
    path = tmp_path / "c"
    make(path)
    with embkit.open(path) as col:
        col.delete([f"d{i}" for i in range(0, N, 10)])
    done = embkit_cli("compact", str(path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1:] == [
        "vector index kept: text (10% of its entries deleted, under the 20% that pays for a rebuild "
        "(--full rebuilds it))"]
    done = embkit_cli("compact", str(path), "--full", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["indexes"] == ["text"] and json.loads(done.stdout)["kept"] == []


def test_cli_compact_refuses_while_another_process_holds_the_file(tmp_path):
    """Changing the page size needs the only connection: a clear error, exit 1, the file as it was."""
    path = tmp_path / "c"
    make(path, spec="flat")
    db = sqlite3.connect(path / DB_NAME)
    db.execute("PRAGMA page_size = 4096")
    db.execute("PRAGMA journal_mode = DELETE")
    db.execute("VACUUM")  # an older embkit's page size, so that compact wants to convert it
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("SELECT count(*) FROM docs").fetchone()
    try:
        done = embkit_cli("compact", str(path))
        assert done.returncode == 1
        assert done.stderr.startswith("error: path: the collection is open in another process"), done.stderr
        assert db.execute("PRAGMA page_size").fetchone()[0] == 4096
    finally:
        db.close()
    assert embkit_cli("compact", str(path)).returncode == 0


def test_http_compact_needs_the_write_scope(tmp_path):
    root = tmp_path / "root"
    make(root / "docs", spec="flat")
    keys_file = tmp_path / "keys.json"
    read, write = create_key(keys_file, "read"), create_key(keys_file, "write")
    live = LiveServer(["--root", str(root), "--keys-file", str(keys_file)], tmp_path / "server.log")
    try:
        with live.client(write) as c:
            r = c.post("/collections/docs/delete", json={"where": {"even": True}})
            assert r.status_code == 200, r.text
        with live.client(read) as c:
            r = c.post("/collections/docs/compact")
            assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
            sizes = c.get("/collections/docs").json()["sizes"]
            assert set(sizes) == {"store", "vector_index", "keyword_index", "caches", "other", "total"}
        with live.client(write) as c:
            r = c.post("/collections/docs/compact", params={"full": "true"})
            assert r.status_code == 200, r.text
            assert r.json()["after"] < r.json()["before"] == sizes["total"]
            assert r.json()["indexes"] == [] and [k["reason"] for k in r.json()["kept"]] == [
                "flat: never saved, read from the store"]
            assert c.get("/collections/docs").json()["count"] == N // 2
    finally:
        assert live.stop() == 0


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_postgres_compact_is_vacuum_full_and_loses_nothing(backend):
    n = 600
    vectors = np.random.default_rng(3).standard_normal((n, DIM)).astype(np.float32)
    with embkit.create(backend("c"), model=None, dim=DIM) as col:
        col.add(texts(n), ids=[f"d{i}" for i in range(n)], vectors=vectors,
                metadatas=[{"i": i, "even": i % 2 == 0} for i in range(n)])
        full = col.info()["sizes"]["total"]
        col.delete(where={"even": True})
        kept = [r.id for r in col.get([f"d{i}" for i in range(n)])]
        dense = [[h.id for h in col.search(vector=vectors[i], k=5)] for i in range(1, 100, 10)]
        keyword = [[h.id for h in col.search(w, k=5, mode="keyword")] for w in WORDS]
        result = col.compact()
        assert result["backend"] == "postgresql" and result["removed"] == [] and result["indexes"] == []
        assert [k["reason"] for k in result["kept"]] == ["in the database: VACUUM (FULL) rewrites it with its table"]
        assert result["after"] < result["before"] and result["after"] <= 0.75 * full, (full, result)
        assert [r.id for r in col.get([f"d{i}" for i in range(n)])] == kept == [f"d{i}" for i in range(1, n, 2)]
        assert [[h.id for h in col.search(vector=vectors[i], k=5)] for i in range(1, 100, 10)] == dense
        assert [[h.id for h in col.search(w, k=5, mode="keyword")] for w in WORDS] == keyword
        sizes = col.info()["sizes"]
        assert sizes["store"] + sizes["vector_index"] + sizes["keyword_index"] == sizes["total"] > 0
