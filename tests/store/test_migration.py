"""Schema migration: a genuine version-1 database (built here from the version-1 DDL) is
migrated in place on open, all or nothing; and the version-2 layout is as small as promised."""

import json
import sqlite3

import numpy as np
import pytest

import embkit
from embkit import EmbkitError
from embkit.store import DB_NAME, SCHEMA_VERSION, Record, SQLiteStore, sqlite as sqlite_store

# The schema as version 1 shipped it, verbatim: `vectors` is WITHOUT ROWID.
V1_STATEMENTS = [
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE spaces (
        name TEXT PRIMARY KEY,
        model TEXT NOT NULL,
        dim INTEGER NOT NULL CHECK (dim > 0),
        metric TEXT NOT NULL CHECK (metric IN ('cosine', 'dot', 'l2')),
        normalized INTEGER NOT NULL
    )""",
    """CREATE TABLE docs (
        rowid INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        text TEXT,
        metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata))
    )""",
    """CREATE TABLE vectors (
        space TEXT NOT NULL REFERENCES spaces(name),
        doc INTEGER NOT NULL REFERENCES docs(rowid) ON DELETE CASCADE,
        vector BLOB NOT NULL,
        PRIMARY KEY (space, doc)
    ) WITHOUT ROWID""",
    # Which rows each generation touched, so an index can catch up instead of rebuilding.
    """CREATE TABLE changes (
        generation INTEGER NOT NULL,
        doc INTEGER NOT NULL,
        PRIMARY KEY (generation, doc)
    ) WITHOUT ROWID""",
]

DIM = 4
IDS = ["a", "b", "c", "d", "e"]
# Unit length, as a cosine collection stores them; each points closest to its own axis mix.
VECTORS = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, 1, 0, 0]], dtype=np.float32)
VECTORS /= np.linalg.norm(VECTORS, axis=1, keepdims=True)


def make_v1(path) -> None:
    """A version-1 collection as embkit 1 wrote it: a vector-only space ('none', not normalized),
    docs with text and metadata written over two generations, and their change log."""
    path.mkdir()
    db = sqlite3.connect(path / DB_NAME, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("BEGIN")
    for statement in V1_STATEMENTS:
        db.execute(statement)
    db.executemany("INSERT INTO meta VALUES (?, ?)",
                   [("schema_version", "1"), ("generation", "2"), ("changes_from", "0")])
    db.execute("INSERT INTO spaces VALUES ('text', 'none', ?, 'cosine', 0)", (DIM,))
    for i, (doc_id, vector) in enumerate(zip(IDS, VECTORS)):
        rowid = db.execute("INSERT INTO docs (id, text, metadata) VALUES (?, ?, ?) RETURNING rowid",
                           (doc_id, f"text of {doc_id}", json.dumps({"n": i}))).fetchone()[0]
        db.execute("INSERT INTO vectors VALUES ('text', ?, ?)", (rowid, vector.tobytes()))
        db.execute("INSERT INTO changes VALUES (?, ?)", (1 + (i >= 3), rowid))
    db.execute("COMMIT")
    db.close()


def raw(path) -> sqlite3.Connection:
    return sqlite3.connect(path / DB_NAME)


def snapshot(path) -> dict:
    """Everything stored, as plain values (vectors as bytes)."""
    db = raw(path)
    try:
        return {table: db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
                for table in ("meta", "spaces", "docs", "vectors", "changes")}
    finally:
        db.close()


def vectors_sql(path) -> str:
    db = raw(path)
    try:
        return db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'vectors'").fetchone()[0]
    finally:
        db.close()


def test_version_1_is_migrated_in_place(tmp_path):
    path = tmp_path / "c"
    make_v1(path)
    before = snapshot(path)
    assert "WITHOUT ROWID" in vectors_sql(path)

    col = embkit.open(path)
    assert col.info()["schema_version"] == SCHEMA_VERSION
    assert col.space.model == "none" and col.space.dim == DIM and col.space.metric == "cosine"
    q = np.array([1, 0.9, 0, 0], dtype=np.float32)  # nearest e (1,1,0,0), then a, then b
    assert [h.id for h in col.search(vector=q, k=3)] == ["e", "a", "b"]
    assert [h.id for h in col.search(vector=[0, 0, 0, 1], k=1)] == ["d"]
    col.close()

    after = snapshot(path)
    assert "WITHOUT ROWID" not in vectors_sql(path)
    identity = dict(after["meta"]).get("identity", "")  # made on first use: the index saved records it
    assert len(identity) == 32 and "identity" not in dict(before["meta"])
    keyword = {k: v for k, v in dict(after["meta"]).items() if k.startswith("kw_")}  # the keyword index's (4)
    assert set(keyword) == {"kw_docs", "kw_tokens", "kw_tokenizer", "kw_format"}
    generation = dict(before["meta"])["generation"]  # the flat index searched then pruned the change log to it
    assert dict(after["meta"]) == {**dict(before["meta"]), "schema_version": str(SCHEMA_VERSION), "identity": identity,
                                   "changes_from": generation, **keyword}
    assert after["changes"] == []
    for table in ("spaces", "docs"):
        assert after[table] == before[table], table
    assert sorted(after["vectors"]) == sorted(before["vectors"])
    db = raw(path)
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE 'vectors_v%'").fetchone()[0] == 0
    cookie = db.execute("PRAGMA schema_version").fetchone()[0]
    db.close()

    # A second open changes nothing: same schema (cookie included), same rows.
    store = SQLiteStore.open(path)
    rowids, matrix = store.vectors("text")
    records = store.by_rowids(rowids)
    assert [records[r].id for r in rowids.tolist()] == IDS
    assert [row.tobytes() for row in matrix] == [v.tobytes() for v in VECTORS]
    db = raw(path)
    assert db.execute("PRAGMA schema_version").fetchone()[0] == cookie
    db.close()
    assert snapshot(path) == after

    # ON DELETE CASCADE still reaches the rebuilt table; INSERT OR REPLACE still replaces.
    assert store.delete(ids=["b"]) == 1
    store.write([Record("a", "new a", {})], "text", VECTORS[3:4], upsert=True)
    store.close()
    db = raw(path)
    rows = db.execute("SELECT d.id, v.vector FROM vectors v JOIN docs d ON d.rowid = v.doc ORDER BY d.id").fetchall()
    assert [r[0] for r in rows] == ["a", "c", "d", "e"]
    assert rows[0][1] == VECTORS[3].tobytes()
    assert db.execute("SELECT count(*) FROM vectors").fetchone()[0] == 4
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    db.close()


def test_failed_migration_leaves_version_1_intact(tmp_path, monkeypatch):
    path = tmp_path / "c"
    make_v1(path)
    before = snapshot(path)
    step = sqlite_store._MIGRATIONS[1]

    def copy_then_fail(c):
        step(c)  # the new table is in place and the old one dropped when this fails
        raise sqlite3.OperationalError("simulated failure after the copy")

    monkeypatch.setitem(sqlite_store._MIGRATIONS, 1, copy_then_fail)
    with pytest.raises(EmbkitError,
                       match=rf"schema_version: .*from schema version 1 to {SCHEMA_VERSION} .*simulated failure"):
        embkit.open(path)
    assert snapshot(path) == before
    assert "WITHOUT ROWID" in vectors_sql(path)
    db = raw(path)
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE 'vectors_v%'").fetchone()[0] == 0
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    db.close()

    # Nothing was left locked or half-done: the real migration succeeds afterwards.
    monkeypatch.undo()
    with embkit.open(path) as col:
        assert col.info()["schema_version"] == SCHEMA_VERSION
        assert [h.id for h in col.search(vector=[0, 0, 1, 0], k=1)] == ["c"]


def test_unknown_old_version_is_refused(tmp_path):
    path = tmp_path / "c"
    make_v1(path)
    db = raw(path)
    db.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    before = snapshot(path)
    with pytest.raises(EmbkitError,
                       match=f"schema_version: .*from schema version 0 to {SCHEMA_VERSION} "
                             ".*no migration from version 0"):
        embkit.open(path)
    assert snapshot(path) == before


def test_384d_vectors_stay_out_of_overflow_pages(tmp_path):
    n, dim = 2000, 384
    vectors = np.random.default_rng(0).standard_normal((n, dim)).astype(np.float32)
    col = embkit.create(tmp_path / "c", model=None, dim=dim)
    col.add(ids=[f"v{i}" for i in range(n)], vectors=vectors)
    col.close()
    assert "WITHOUT ROWID" not in vectors_sql(tmp_path / "c")
    db = raw(tmp_path / "c")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    on_disk = db.execute("PRAGMA page_count").fetchone()[0] * db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    files = sum(p.stat().st_size for p in (tmp_path / "c").glob(DB_NAME + "*"))
    assert files == on_disk  # the WAL is empty after the checkpoint
    assert on_disk / n < 1.25 * 4 * dim, f"{on_disk / n:.0f} bytes per vector"  # 2,105 with 4 KiB pages
