"""The Collection contract: round trips of the Python API with the real model, run
against every store backend (SQLite and PostgreSQL + pgvector; see the `backend`
fixture). Tests about the SQLite file itself (WAL, a corrupt file) are SQLite's alone;
their PostgreSQL counterparts sit beside them."""

import sqlite3

import numpy as np
import pytest

import embkit
from embkit.store import DB_NAME, SCHEMA_VERSION, Record
from embkit.store.pg_connection import PgUrl

from pg_server import free_port

DOCS = {
    "argparse": "Parse command line arguments and options for a program.",
    "gzip": "Compress and decompress files in the gzip format.",
    "pool": "Run a function in parallel over many inputs with a pool of worker processes.",
    "csv": "Read and write comma separated value files.",
    "weather": "Tomorrow will be sunny with a light breeze.",
}
META = {"argparse": {"kind": "module", "year": 2011}, "gzip": {"kind": "module", "year": 1996},
        "pool": {"kind": "class", "year": 2008}, "csv": {"kind": "module", "year": 2003},
        "weather": {"kind": "note"}}


@pytest.fixture
def col(backend, minilm):
    c = embkit.create(backend("c"))
    c.add(list(DOCS.values()), ids=list(DOCS), metadatas=[META[i] for i in DOCS])
    yield c
    c.close()


def state(c):
    """What a rejected call must leave untouched."""
    return c.count(), c.info()["generation"], [(d.id, d.text, d.metadata) for d in c.get(where=None)]


def test_search_by_meaning_returns_exact_ids(col):
    assert col.search("how do I read CLI options", k=1)[0].id == "argparse"
    assert col.search("zip up a file", k=1)[0].id == "gzip"
    assert col.search("spreadsheet data in text files", k=1)[0].id == "csv"


def test_hit_fields_and_scores_match_a_numpy_reference(col, minilm):
    hits = col.search("run work concurrently", k=5)
    assert hits[0]._fields[:4] == ("id", "score", "text", "metadata")
    q = minilm.encode(["run work concurrently"])[0]
    vectors = minilm.encode(list(DOCS.values()))
    expected = sorted(zip(DOCS, vectors @ q), key=lambda p: -p[1])
    assert [h.id for h in hits] == [i for i, _ in expected]
    np.testing.assert_allclose([h.score for h in hits], [s for _, s in expected], atol=1e-5)
    # a document stored whole names itself as its `parent`, as every record names its document
    assert hits[0].text == DOCS[hits[0].id] and hits[0].metadata == {**META[hits[0].id], "parent": hits[0].id}


def test_search_with_where_filter(col):
    hits = col.search("compress data", k=10, where={"kind": "module", "year": {"$gte": 2000}})
    assert {h.id for h in hits} == {"argparse", "csv"}
    assert col.search("x y z", k=3, where={"kind": "nothing"}) == []


def test_search_by_vector_and_like(col):
    vec = col.get(["gzip"], include_vectors=True)[0].vector
    assert col.search(vector=vec, k=1)[0].id == "gzip"
    assert col.search(vector=vec, k=1)[0].score == pytest.approx(1.0, abs=1e-5)
    like = col.search(like="gzip", k=4)
    assert "gzip" not in [h.id for h in like] and len(like) == 4
    with pytest.raises(embkit.EmbkitError, match="like: no document with id 'nope'"):
        col.search(like="nope")


def test_get_count_upsert_delete_round_trip(col):
    assert col.count() == 5 and col.count(where={"kind": "module"}) == 3
    got = col.get(["csv", "missing", "gzip"])
    assert [(d.id, d.text, d.metadata) for d in got] == \
        [(i, DOCS[i], {**META[i], "parent": i}) for i in ("csv", "gzip")]
    col.upsert(["A recipe for apple pie."], ids=["csv"], metadatas=[{"kind": "recipe"}])
    assert col.get(["csv"])[0].text == "A recipe for apple pie." and col.count() == 5
    assert col.search("baking dessert", k=1)[0].id == "csv"
    assert col.delete(["csv", "not-there"]) == 1 and col.count() == 4
    assert col.delete(where={"kind": "module"}) == 2
    assert {d.id for d in col.get(where=None)} == {"pool", "weather"}
    assert "argparse" not in {h.id for h in col.search("command line", k=10)}


def test_generated_ids_and_reopen(backend, minilm):
    path = backend("c")
    with embkit.create(path) as c:
        ids = c.add(["first text", "second text"])
        assert len(ids) == 2 and all(len(i) == 32 for i in ids) and ids[0] != ids[1]
    with embkit.open(path) as c:
        assert c.count() == 2 and {d.id for d in c.get(ids)} == set(ids)
        assert c.info()["model"] == "minilm"


def test_embed_matches_stored_vectors(col):
    stored = col.get(["pool"], include_vectors=True)[0].vector
    np.testing.assert_allclose(col.embed([DOCS["pool"]])[0], stored, atol=1e-6)


def test_precomputed_vectors_and_metrics(backend):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(50, 8)).astype(np.float32)
    q = rng.normal(size=8).astype(np.float32)
    for metric, reference in [
        ("cosine", (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)) @ (q / np.linalg.norm(q))),
        ("dot", vectors @ q),
        ("l2", -np.linalg.norm(vectors - q, axis=1)),
    ]:
        c = embkit.create(backend(metric), model=None, dim=8, metric=metric)
        c.add(ids=[f"v{i}" for i in range(50)], vectors=vectors)
        hits = c.search(vector=q, k=7)
        order = np.argsort(-reference, kind="stable")[:7]
        assert [h.id for h in hits] == [f"v{i}" for i in order], metric
        np.testing.assert_allclose([h.score for h in hits], reference[order], rtol=1e-4, atol=1e-4)
        c.close()


def test_add_vectors_with_texts(backend):
    c = embkit.create(backend("c"), model=None, dim=3)
    c.add(["alpha", "beta"], ids=["a", "b"], vectors=[[1, 0, 0], [0, 1, 0]])
    assert c.search(vector=[0.9, 0.1, 0], k=1)[0][:4] == ("a", pytest.approx(0.9939, abs=1e-3), "alpha",
                                                          {"parent": "a"})
    with pytest.raises(embkit.EmbkitError, match="no model; pass vectors"):
        c.add(["gamma"])
    c.close()


# ---- bad input: a clear error naming the field, and nothing changes ---------------------

@pytest.mark.parametrize("call, message", [
    (lambda c: c.add(["ok", "   "], ids=["n1", "n2"]), r"texts\[1\]: empty or whitespace-only"),
    (lambda c: c.add([""], ids=["n1"]), r"texts\[0\]: empty"),
    (lambda c: c.add(["ok", 5], ids=["n1", "n2"]), r"texts\[1\]: expected a string"),
    (lambda c: c.add(["new", "dup"], ids=["n1", "gzip"]), r"ids: 1 already exist \(first: 'gzip'\)"),
    (lambda c: c.add(["a", "b"], ids=["x", "x"]), r"ids\[1\]: duplicate id 'x'"),
    (lambda c: c.add(["a"], ids=["x", "y"]), r"ids: 2 ids for 1 documents"),
    (lambda c: c.add(["a"], metadatas=[{"bad": float("nan")}]), r"metadatas\[0\]: not JSON-serializable"),
    (lambda c: c.add(vectors=np.ones((2, 50))),
     r"vectors: dimension 50 does not match the collection's 384 \(model minilm\)"),
    (lambda c: c.add(vectors=np.zeros((1, 384))), r"vectors\[0\]: zero vector"),
    (lambda c: c.add(vectors=np.full((1, 384), np.nan)), r"vectors\[0\]: contains NaN"),
    (lambda c: c.add(["a", "b", "c"], ids=["n1", "n2", "n3"],
                     vectors=np.vstack([np.ones((2, 384)), np.full((1, 384), np.inf)])),
     r"vectors\[2\]: contains NaN or infinity"),
    (lambda c: c.add(["a"], model="glove-50d"),
     r"model: space 'text' holds vectors from 'minilm' \(384-d\); got 'glove-50d'"),
    (lambda c: c.search("q", model="minilm-torch"),
     r"holds vectors from 'minilm' \(384-d\); got 'minilm-torch' \(384-d\)"),
    (lambda c: c.search(vector=np.ones(12)),
     r"vector: dimension 12 does not match the collection's 384 \(model minilm\)"),
    (lambda c: c.search("   "), r"query: empty"),
    (lambda c: c.search("q", k=0), r"k: must be an integer from 1 to 10000"),
    (lambda c: c.search("q", where={"kind": {"$regex": "x"}}), r"where.kind.\$regex: unknown operator"),
    (lambda c: c.delete(), r"refusing to delete everything"),
    (lambda c: c.upsert(["fine", ""], ids=["gzip", "new"]), r"texts\[1\]: empty"),
])
def test_bad_input_is_refused_and_changes_nothing(col, call, message):
    before = state(col)
    with pytest.raises(embkit.EmbkitError, match=message):
        call(col)
    assert state(col) == before


def test_a_batch_that_fails_inside_the_store_changes_nothing(col):
    """A record the database itself refuses (a NULL id) comes after good ones: the
    transaction rolls back the rows already written and the generation bump."""
    before = state(col)
    records = [Record("s1", "one", {"n": 1}), Record("s2", "two", {}), Record(None, "three", {})]
    with pytest.raises(Exception):  # noqa: B017 - whichever error the backend's driver raises
        col._store.write(records, "text", np.ones((3, 384), np.float32) / np.sqrt(384), upsert=True)
    assert state(col) == before
    col.add(["still writable"], ids=["s1"])
    assert col.count() == before[0] + 1


def test_nul_characters(col, backend):
    """Metadata cannot hold U+0000 on any backend (SQLite's JSON functions would cut the
    string there); PostgreSQL's text cannot hold it in a text or an id either. Each is
    refused by name, changing nothing; SQLite stores it in texts and ids."""
    everywhere = [(lambda: col.add(["ab", "cd"], ids=["z1", "z2"], metadatas=[{}, {"k": ["\x00"]}]),
                   r"^metadatas\[1\]\.k\[0\]: contains a NUL character"),
                  (lambda: col.merge_metadata({"gzip": {"k\x00": 1}}), r"^patches\['gzip'\]: a key contains a NUL")]
    postgres_only = [(lambda: col.add(["a\x00b"], ids=["z1"]), r"texts\[0\]: PostgreSQL cannot store the NUL"),
                     (lambda: col.add(["ab"], ids=["z\x00"]), r"ids\[0\]: PostgreSQL cannot store the NUL")]
    for call, message in everywhere + (postgres_only if backend.postgres else []):
        before = state(col)
        with pytest.raises(embkit.EmbkitError, match=message):
            call()
        assert state(col) == before
    if not backend.postgres:
        col.add(["a\x00b"], ids=["z\x00"], metadatas=[{"k": "v"}])
        assert col.get(["z\x00"])[0][1:3] == ("a\x00b", {"k": "v", "parent": "z\x00"})


def test_create_and_open_errors(backend):
    with pytest.raises(embkit.EmbkitError, match="metric: unknown 'manhattan'"):
        embkit.create(backend("m"), metric="manhattan")
    bad = backend("m")
    with pytest.raises(embkit.EmbkitError, match="model: unknown model 'bert-huge'"):
        embkit.create(bad, model="bert-huge")
    with pytest.raises(embkit.EmbkitError, match="no collection"):  # nothing was created
        embkit.open(bad)
    with pytest.raises(embkit.EmbkitError, match="no collection"):
        embkit.open(backend("missing"))
    path = backend("c")
    embkit.create(path, model=None, dim=2).close()
    with pytest.raises(embkit.EmbkitError, match="already holds a collection"):
        embkit.create(path, model=None, dim=2)
    with embkit.open(path) as c:  # the refused create left it as it was
        assert c.count() == 0 and c.space.dim == 2


def test_foreign_folder_is_refused(tmp_path):
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("hi")
    with pytest.raises(embkit.EmbkitError, match="is not an embkit collection"):
        embkit.open(tmp_path / "foreign")
    with pytest.raises(embkit.EmbkitError, match="read_url: only a PostgreSQL collection"):
        embkit.open(tmp_path / "foreign", read_url="postgresql://x/y")


def test_bad_postgresql_urls_are_clear_errors(pg_server):
    url = pg_server.url_for("embkit_tests")
    with pytest.raises(embkit.EmbkitError, match=r"needs \?collection=NAME"):
        embkit.open(url)
    with pytest.raises(embkit.EmbkitError, match="not a valid collection name"):
        embkit.create(url + "?collection=a/b", model=None, dim=2)
    with pytest.raises(embkit.EmbkitError, match="cannot connect to PostgreSQL"):
        embkit.open(f"postgresql://embkit@127.0.0.1:{free_port()}/embkit_tests?collection=c")


def test_newer_schema_version_is_refused(backend):
    path = backend("c")
    embkit.create(path, model=None, dim=2).close()
    if backend.postgres:
        import psycopg

        target = PgUrl(path)
        with psycopg.connect(target.conninfo, autocommit=True) as db:
            db.execute(f'UPDATE "{target.schema}".meta SET value = \'99\' WHERE key = \'schema_version\'')
    else:
        db = sqlite3.connect(path / DB_NAME)
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
        db.commit()
        db.close()
    with pytest.raises(embkit.EmbkitError, match="schema version 99, newer than this embkit supports"):
        embkit.open(path)


def test_corrupt_database_is_a_clear_error(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / DB_NAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(embkit.EmbkitError, match="not a readable embkit database"):
        embkit.open(tmp_path / "c")


def test_wal_mode(tmp_path):
    with embkit.create(tmp_path / "c", model=None, dim=2) as c:
        assert c._store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_info(col, backend):
    info = col.info()
    assert info["count"] == 5 and info["dim"] == 384 and info["metric"] == "cosine"
    assert info["spaces"] == {"text": {"model": "minilm", "dim": 384, "metric": "cosine", "normalized": True}}
    assert info["bytes"] > 5 * 384 * 4 and info["schema_version"] == SCHEMA_VERSION
    assert info["read_only"] is False  # a writable collection (read-only ones: tests/store/test_read_only.py)
    if backend.postgres:
        assert info["backend"] == "postgresql" and info["path"].startswith("postgresql://embkit@127.0.0.1:")
        assert info["index"]["backend"] == "pgvector" and info["index"]["kind"] == "hnsw"
        assert info["index"]["bytes"] > 0 and info["index"]["current"]
    else:
        assert info["backend"] == "sqlite" and info["path"] == str(col.path)
