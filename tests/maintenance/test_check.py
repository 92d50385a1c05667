"""`embkit check` (issue 19, item 2): a healthy collection passes on both backends;
each kind of damage, made for real in the files, fails the check that looks at it and
no other; `repair` rebuilds the derived files (after which everything passes) and
leaves a damaged store as it is, saying what to do; the CLI's exit codes and --json,
and the HTTP route with its scopes, on a real server."""

import json
import re
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

import embkit
from embkit.index import persist
from embkit.store import SQLiteStore

from live_server import LiveServer, create_key

DIM, N = 8, 40
IDS = [f"d{i:03d}" for i in range(N)]
TEXTS = [f"document number {i} about {'cats' if i % 2 else 'boats'}" for i in range(N)]
SQLITE_CHECKS = ["schema", "integrity", "vectors:text", "documents", "index files:text", "index:text", "keyword index"]


def vectors(n: int = N, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def make(folder: Path) -> Path:
    """A small cosine collection with a saved HNSW index and a saved keyword index."""
    with embkit.create(folder, model=None, dim=DIM) as col:
        col.add(TEXTS, ids=IDS, vectors=vectors())
        col.build_index("hnsw")
        assert col.search("cats", k=3, mode="keyword")
    return folder


def check(folder: Path, repair: bool = False):
    with embkit.open(folder) as col:
        return col.check(repair=repair)


def failing(report) -> list[str]:
    return [c.name for c in report.checks if not c.ok]


def detail(report, name: str) -> str:
    return next(c.detail for c in report.checks if c.name == name)


def rowid_of(folder: Path, doc_id: str) -> int:
    with sqlite3.connect(folder / "embkit.db") as conn:
        return conn.execute("SELECT rowid FROM docs WHERE id = ?", (doc_id,)).fetchone()[0]


def set_vector_blob(folder: Path, doc_id: str, blob: bytes) -> None:
    """Damage the store behind embkit's back, as a bad disk or a foreign tool would."""
    conn = sqlite3.connect(folder / "embkit.db")
    conn.execute("UPDATE vectors SET vector = ? WHERE doc = ?", (blob, rowid_of(folder, doc_id)))
    conn.commit()
    conn.close()


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "embkit.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


# ---- healthy ------------------------------------------------------------------------

def test_a_healthy_collection_passes(backend, minilm):
    path = backend("c")
    with embkit.create(path) as col:
        col.add(["The cat sleeps on the mat.", "Stock markets fell sharply.", "Rain is expected tomorrow.",
                 "to be or not to be"],
                ids=["cat", "stocks", "rain", "stopwords"])
        if not backend.postgres:
            col.build_index("hnsw")  # saved files to check (a flat index saves none)
        assert [h.id for h in col.search("cat", k=1, mode="keyword")] == ["cat"]
    with embkit.open(path) as col:
        report = col.check()
    expected = SQLITE_CHECKS if not backend.postgres else [n for n in SQLITE_CHECKS if n != "index files:text"]
    assert [c.name for c in report.checks] == expected
    assert report.ok and failing(report) == [] and report.repaired == []
    assert detail(report, "vectors:text") == "4 vectors, 384-d, finite, unit length"
    assert detail(report, "documents") == "4 documents, each with a vector"
    assert detail(report, "keyword index") == "in the store, current: 3 documents, 10 terms"  # stopwords only: no terms
    assert report.to_dict() == {"ok": True, "repaired": [],
                                "checks": [{"name": c.name, "ok": True, "detail": c.detail} for c in report.checks]}


def test_a_stale_index_is_a_note_not_a_failure(tmp_path):
    folder = make(tmp_path / "c")
    with embkit.open(folder) as col:  # a write that no index has caught up with yet
        col.add(["one more about cats"], ids=["late"], vectors=vectors(1, seed=5))
        col.close(save=False)
    report = check(folder)
    assert report.ok
    assert "stale, the store is at 2" in detail(report, "index files:text")
    assert "1 changed since are caught up on use" in detail(report, "index:text")


# ---- damage to the store: found, named, never "repaired" ------------------------------

@pytest.mark.parametrize("damage, found", [
    ("nan", "1 not finite (first: 'd007')"),
    ("short", "1 not 32 bytes (8-d) (first: 'd007')"),
    ("long", "1 not unit length (±0.001) (first: 'd007')"),
])
def test_a_damaged_vector_fails_the_vectors_check(tmp_path, damage, found):
    folder = make(tmp_path / "c")
    v = vectors()[7]
    blob = {"nan": np.where(np.arange(DIM) == 3, np.nan, v).astype(np.float32).tobytes(),
            "short": v[:1].tobytes(), "long": (2 * v).tobytes()}[damage]
    set_vector_blob(folder, "d007", blob)
    report = check(folder)
    assert failing(report) == ["vectors:text"]
    assert detail(report, "vectors:text").startswith(found)
    repaired = check(folder, repair=True)
    assert failing(repaired) == ["vectors:text"] and repaired.repaired == []
    assert "restore a snapshot" in detail(repaired, "vectors:text")
    with sqlite3.connect(folder / "embkit.db") as conn:  # the row is left as it was
        row = conn.execute("SELECT vector FROM vectors WHERE doc = ?", (rowid_of(folder, "d007"),)).fetchone()
    assert row[0] == blob


def test_a_repair_that_cannot_read_the_store_says_so(tmp_path):
    folder = make(tmp_path / "c")
    set_vector_blob(folder, "d007", b"\x00" * 4)  # the store's vectors no longer make a matrix
    (faiss_file,) = (folder / "index" / "text").glob("faiss-*.bin")
    faiss_file.write_bytes(b"")
    report = check(folder, repair=True)
    assert failing(report) == ["vectors:text"] and report.repaired == []
    assert detail(report, "index files:text").startswith("none saved")  # the damaged files were cleared ...
    assert "(repair failed: ValueError: " in detail(report, "index files:text")  # ... but none could be built


def test_a_corrupted_database_page_fails_integrity(tmp_path):
    folder = make(tmp_path / "c")
    db, rowid = folder / "embkit.db", rowid_of(folder, "d017")
    assert not (folder / "embkit.db-wal").exists() or (folder / "embkit.db-wal").stat().st_size == 0
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")  # the file's page size (sqlite_pages chooses it)
    hits = [m.start() for m in re.finditer(b"d017", data) if data[m.start() // page * page] == 0x0A]
    assert len(hits) == 1  # the id's key in the leaf page of the ids' index (page type 0x0A)
    data[hits[0]] = ord("x")  # one flipped byte: the table row and its index entry disagree
    db.write_bytes(bytes(data))
    report = check(folder)
    assert failing(report) == ["integrity"]
    assert detail(report, "integrity").startswith(
        f"row {rowid} missing from index sqlite_autoindex_docs_1")
    repaired = check(folder, repair=True)
    assert failing(repaired) == ["integrity"] and repaired.repaired == []
    assert "restore a snapshot (embkit restore)" in detail(repaired, "integrity")


# ---- damage to derived files: found, then rebuilt -------------------------------------

def saved_index(folder: Path):
    """(index, manifest) of the saved HNSW index, and the collection's identity."""
    with closing(SQLiteStore.open(folder)) as store:
        return (persist.load_current(folder / "index" / "text", store.spaces()["text"], store.identity, store=store),
                store.identity)


def test_a_corrupted_index_file_fails_then_repair_rebuilds_it(tmp_path):
    folder = make(tmp_path / "c")
    (faiss_file,) = (folder / "index" / "text").glob("faiss-*.bin")
    data = bytearray(faiss_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    faiss_file.write_bytes(bytes(data))
    report = check(folder)
    assert failing(report) == ["index files:text"]
    assert "missing, truncated or changed since it was written" in detail(report, "index files:text")
    repaired = check(folder, repair=True)
    assert repaired.ok and repaired.repaired == ["index files:text"]
    assert check(folder).ok
    with embkit.open(folder) as col:
        assert [h.id for h in col.search(vector=vectors()[11], k=1)] == ["d011"]


def test_a_foreign_or_doubled_row_in_the_index_fails_then_repair_rebuilds_it(tmp_path):
    folder = make(tmp_path / "c")
    (index, manifest), identity = saved_index(folder)
    index.add(np.array([999_999, rowid_of(folder, "d004")]), vectors(2, seed=9))  # through FAISS, as a bug would
    persist.save(index, folder / "index" / "text", manifest["generation"], "text", identity)
    report = check(folder)
    assert failing(report) == ["index:text"]
    assert detail(report, "index:text") == ("1 rows indexed more than once (first: 'd004'); 1 rows in it that the "
                                            "store does not hold (first: row 999999); --repair rebuilds it from "
                                            "the store")
    repaired = check(folder, repair=True)
    assert repaired.ok and repaired.repaired == ["index:text"]
    assert detail(repaired, "index:text") == f"{N} rows, each once, as the store holds them"


def test_a_keyword_index_missing_a_row_fails_then_repair_rebuilds_it(tmp_path):
    folder = make(tmp_path / "c")
    with closing(SQLiteStore.open(folder)) as store:
        full = store.keyword_stats()
        with store._write() as c:  # damage the store's keyword tables behind its back: one document's terms gone
            c.execute("UPDATE meta SET value = CAST(value AS INTEGER) - 1 WHERE key = 'kw_docs'")
    report = check(folder)
    assert failing(report) == ["keyword index"]
    assert detail(report, "keyword index").startswith(f"holds {full['docs'] - 1} documents of {full['tokens']} terms, "
                                                      f"the store's text {full['docs']} of {full['tokens']}")
    repaired = check(folder, repair=True)
    assert repaired.ok and repaired.repaired == ["keyword index"]
    with closing(SQLiteStore.open(folder)) as store:
        assert store.keyword_stats()["docs"] == full["docs"] == N


def test_a_derived_folder_replaced_by_a_file_is_rebuilt(tmp_path):
    folder = make(tmp_path / "c")
    target = folder / "index" / "text"
    shutil.rmtree(target)
    target.write_text("not a folder")
    report = check(folder)
    assert failing(report) == ["index files:text"]
    repaired = check(folder, repair=True)
    assert repaired.ok and repaired.repaired == ["index files:text"]
    assert (folder / "index" / "text" / "manifest.json").is_file()


# ---- the command line -----------------------------------------------------------------

def test_cli_exit_codes_json_and_repair(tmp_path):
    folder = make(tmp_path / "c")
    done = cli("check", folder)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["check", "result", "detail"]
    assert [line.split()[0] for line in lines[1:-1]] == ["schema", "integrity", "vectors:text", "documents",
                                                         "index", "index:text", "keyword"]
    assert lines[-1] == "all checks passed"

    (faiss_file,) = (folder / "index" / "text").glob("faiss-*.bin")
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])  # truncated
    done = cli("check", folder, "--json")
    assert done.returncode == 1, done.stderr
    body = json.loads(done.stdout)
    assert body["ok"] is False and body["repaired"] == []
    assert [c["name"] for c in body["checks"] if not c["ok"]] == ["index files:text"]
    assert set(body["checks"][0]) == {"name", "ok", "detail"}
    done = cli("check", folder)
    assert done.returncode == 1 and done.stdout.splitlines()[-1] == "1 of 7 checks failed"
    assert re.search(r"^index files:text\s+FAIL\s+unusable", done.stdout, re.M)

    done = cli("check", folder, "--repair", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["repaired"] == ["index files:text"]
    assert cli("check", folder).returncode == 0


def test_cli_on_a_database_that_does_not_open(tmp_path):
    folder = make(tmp_path / "c")
    db = folder / "embkit.db"
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page:2 * page] = bytes(range(256)) * (page // 256)  # page 2, the meta table's root: nothing can be read
    db.write_bytes(bytes(data))
    done = cli("check", folder, "--json")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    body = json.loads(done.stdout)
    assert [c["name"] for c in body["checks"]] == ["open", "integrity"] and body["ok"] is False
    assert "not a readable embkit database" in body["checks"][0]["detail"]
    assert not body["checks"][1]["ok"]
    done = cli("check", tmp_path / "nothing")
    assert done.returncode == 1 and done.stderr.startswith("error: path: no collection at")


# ---- over HTTP ------------------------------------------------------------------------

def test_http_check_and_repair_with_scopes(tmp_path):
    root = tmp_path / "root"
    folder = make(root / "docs")
    keys_file = tmp_path / "keys.json"
    read, write = create_key(keys_file, "read"), create_key(keys_file, "write")
    live = LiveServer(["--root", str(root), "--keys-file", str(keys_file)], tmp_path / "server.log")
    try:
        with live.client(read) as c:
            r = c.get("/collections/docs/check")
            assert r.status_code == 200 and r.json()["ok"] is True
            assert [x["name"] for x in r.json()["checks"]] == SQLITE_CHECKS
            (faiss_file,) = (folder / "index" / "text").glob("faiss-*.bin")
            faiss_file.write_bytes(b"not faiss")
            r = c.get("/collections/docs/check")
            assert r.status_code == 200 and r.json()["ok"] is False
            assert [x["name"] for x in r.json()["checks"] if not x["ok"]] == ["index files:text"]
            r = c.get("/collections/docs/check", params={"repair": "true"})
            assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
            assert faiss_file.read_bytes() == b"not faiss"  # refused: nothing rebuilt
        with live.client(write) as c:
            r = c.get("/collections/docs/check", params={"repair": "true"})
            assert r.status_code == 200, r.text
            assert r.json()["ok"] is True and r.json()["repaired"] == ["index files:text"]
            assert c.get("/collections/docs/check", params={"repair": "maybe"}).status_code == 422
    finally:
        assert live.stop() == 0


# ---- PostgreSQL -----------------------------------------------------------------------

def test_postgres_damage_is_found_and_the_pgvector_index_remade(pg_server):
    import psycopg

    from embkit.store.pg_connection import PgUrl

    from pg_fixtures import Backend

    path = Backend("postgres", server=pg_server)("check")
    with embkit.create(path, model=None, dim=DIM) as col:
        col.add(TEXTS, ids=IDS, vectors=vectors())
    assert check(path).ok
    target, doubled = PgUrl(path), "[" + ",".join(str(float(x)) for x in 2 * vectors()[7]) + "]"
    with psycopg.connect(target.conninfo, autocommit=True) as db:
        db.execute(f'UPDATE "{target.schema}".vec_text SET embedding = %s WHERE doc = (SELECT rowid FROM '
                   f'"{target.schema}".docs WHERE id = %s)', (doubled, "d007"))
        db.execute(f'DROP INDEX "{target.schema}".vec_text_index')
    report = check(path)
    assert failing(report) == ["vectors:text", "index:text"]
    assert detail(report, "vectors:text").startswith("1 not unit length (±0.001) (first: 'd007')")
    assert "pg_dump" in detail(report, "vectors:text")
    assert "the index is missing" in detail(report, "index:text")
    repaired = check(path, repair=True)
    assert failing(repaired) == ["vectors:text"] and repaired.repaired == ["index:text"]
    assert detail(repaired, "index:text").startswith("pgvector hnsw")


def test_a_matryoshka_view_index_is_checked_and_its_damage_cleared(tmp_path):
    folder = make(tmp_path / "c")
    with embkit.open(folder) as col:
        col.build_index("hnsw", dims=4)
    report = check(folder)
    assert [c.name for c in report.checks] == SQLITE_CHECKS[:-1] + ["index files:text@4", "index:text@4",
                                                                     "keyword index"]
    assert report.ok
    (faiss_file,) = (folder / "index" / "text@4").glob("faiss-*.bin")
    faiss_file.write_bytes(faiss_file.read_bytes()[:-8])
    report = check(folder)
    assert failing(report) == ["index files:text@4"]
    repaired = check(folder, repair=True)
    assert repaired.ok and repaired.repaired == ["index files:text@4"]
    assert not (folder / "index" / "text@4").exists()  # a view is rebuilt when next used
    with embkit.open(folder) as col:
        assert col.search(vector=vectors()[3], k=1, dims=4)[0].id == "d003"
