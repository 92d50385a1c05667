"""PostgreSQL's keyword index lives in the database and changes in each write's own
transaction: after any interleaving of adds, upserts (with stale chunks swept) and
deletes it scores exactly as one rebuilt from scratch, and as SQLite's; a version-2
collection is migrated by building it; nothing of it is kept in a local folder."""

import json

import numpy as np

import embkit
from embkit.store.keyword_terms import DESCRIPTION, tokenize_terms
from embkit.store.postgres import PostgresStore
from embkit.store.schema import SCHEMA_VERSION
from embkit.store.sqlite import SQLiteStore
from embkit.store.types import Record, Space

from pg_fixtures import Backend

SPACE = Space("text", "none", 4, "cosine", False)
WORDS = ("gzip compress compressed compression files file parser parse parsing command line run running runs "
         "parallel pool worker tea bread soup moon mars rover water the of and a xyzzy").split()
QUERIES = [["gzip"], ["file"], ["compress", "file"], ["run", "run", "parallel"], ["parser", "command", "line"],
           ["xyzzy"], ["nothing"], ["tea", "bread", "soup", "moon", "mar", "water"]]


def texts(rng, n):
    """n random texts of 0-14 words (some only stopwords, some None: no terms)."""
    out = []
    for _ in range(n):
        if rng.random() < 0.08:
            out.append(None)
        else:
            out.append(" ".join(rng.choice(WORDS, size=int(rng.integers(1, 15)))))
    return out


def records(rng, ids):
    return [Record(i, t, {"g": int(rng.integers(3))}) for i, t in zip(ids, texts(rng, len(ids)))]


def write(stores, rng, records, upsert, documents=()):
    vectors = rng.normal(size=(len(records), SPACE.dim)).astype(np.float32)
    for store in stores:
        store.write(records, SPACE.name, vectors, upsert, documents)


def interleave(stores, rng, steps=40):
    """The same random adds, upserts, chunked upserts (whose stale chunks go) and
    deletes (by id and by filter) on every store."""
    alive, serial = [], 0
    for _ in range(steps):
        action = rng.choice(["add", "add", "upsert", "chunks", "delete", "delete_where"])
        if action == "add" or not alive:
            batch = [f"d{serial + i}" for i in range(int(rng.integers(1, 6)))]
            serial += len(batch)
            write(stores, rng, records(rng, batch), upsert=False)
            alive += batch
        elif action == "upsert":
            batch = list(rng.choice(alive, size=min(len(alive), 3), replace=False)) + [f"d{serial}"]
            serial += 1
            write(stores, rng, records(rng, batch), upsert=True)
            alive = list(dict.fromkeys(alive + batch))
        elif action == "chunks":  # a document as 1-4 chunks: an upsert with fewer sweeps the rest
            doc = f"doc{int(rng.integers(3))}"
            chunks = [f"{doc}#{i}" for i in range(int(rng.integers(1, 5)))]
            write(stores, rng, [Record(c, t, {"parent": doc, "g": 1}) for c, t in zip(chunks, texts(rng, len(chunks)))],
                  upsert=True, documents=[doc])
        elif action == "delete":
            gone = [str(i) for i in rng.choice(alive, size=min(len(alive), 2), replace=False)]
            for store in stores:
                store.delete(gone)
            alive = [i for i in alive if i not in gone]
        else:
            group = int(rng.integers(3))
            for store in stores:
                store.delete(where={"g": group, "parent": None})
            alive = [r.id for r in stores[0].find({"parent": None})]


def by_id(store, rowids, scores) -> dict[str, float]:
    records = store.by_rowids(rowids)
    return {records[int(r)].id: float(s) for r, s in zip(rowids, scores)}


def test_incremental_index_scores_as_a_rebuild_and_as_sqlite(tmp_path, pg_server):
    url = Backend("postgres", server=pg_server)("kw")
    pg, lite = PostgresStore.create(url, [SPACE]), SQLiteStore.create(tmp_path / "c", [SPACE])
    interleave([pg, lite], np.random.default_rng(7))
    assert pg.count() == lite.count() > 10
    incremental = {(tuple(q), k): pg.keyword_top_k(q, k) for q in QUERIES for k in (3, 1000)}
    stats = pg.keyword_stats()
    assert (stats["docs"], stats["tokens"]) == (lite.keyword_stats()["docs"], lite.keyword_stats()["tokens"])
    assert stats["docs"] == sum(1 for r in pg.find() if r.text and tokenize_terms(r.text)) > 0
    for q in QUERIES:  # SQLite's row ids differ (PostgreSQL's upserts use up identity values): compare by id
        mine, theirs = by_id(pg, *pg.keyword_top_k(q, 1000)), by_id(lite, *lite.keyword_top_k(q, 1000))
        assert mine.keys() == theirs.keys()
        np.testing.assert_allclose([mine[i] for i in mine], [theirs[i] for i in mine], rtol=0, atol=1e-5)
    pg.rebuild_keyword()
    assert {k: v for k, v in pg.keyword_stats().items() if k != "bytes"} == \
        {k: v for k, v in stats.items() if k != "bytes"}
    for (q, k), (rowids, scores) in incremental.items():
        again = pg.keyword_top_k(list(q), k)
        assert again[0].tolist() == rowids.tolist(), q
        np.testing.assert_allclose(again[1], scores, rtol=0, atol=1e-5)
        assert np.all(np.diff(scores) <= 0) and np.all(scores > 0)
    pg.close()
    lite.close()


def test_allow_and_where_narrow_without_moving_the_statistics(pg_server):
    store = PostgresStore.create(Backend("postgres", server=pg_server)("kw"), [SPACE])
    rng = np.random.default_rng(1)
    write([store], rng, [Record(f"d{i}", t, {"g": i % 3}) for i, t in enumerate(texts(rng, 60))], upsert=False)
    for q in QUERIES:
        everything = dict(zip(*(a.tolist() for a in store.keyword_top_k(q, 1000))))
        allow = store.rowids({"g": 1})
        rowids, scores = store.keyword_top_k(q, 1000, allow=allow)
        assert rowids.tolist() == store.keyword_top_k(q, 1000, where={"g": 1})[0].tolist()
        assert set(rowids.tolist()) == {r for r in everything if r in set(allow.tolist())}
        np.testing.assert_allclose(scores, [everything[r] for r in rowids.tolist()], rtol=0, atol=1e-6)
    assert store.keyword_top_k([], 5)[0].size == store.keyword_top_k(["gzip"], 0)[0].size == 0
    store.close()


def test_a_version_2_collection_is_migrated_and_its_local_keyword_folder_goes(pg_server):
    assert SCHEMA_VERSION == 3
    url = Backend("postgres", server=pg_server)("old")
    col = embkit.create(url, model=None, dim=4)
    rng = np.random.default_rng(2)
    col.add([t or "empty" for t in texts(rng, 30)], vectors=rng.normal(size=(30, 4)).astype(np.float32))
    before = {tuple(q): col._store.keyword_top_k(q, 10) for q in QUERIES}
    stats = col._store.keyword_stats()
    folder = col._store.path
    col.close()
    schema = url.split("collection=")[1]
    pg_server.execute(f'DROP TABLE "embkit_{schema}".keyword_postings, "embkit_{schema}".keyword_stats; '
                      f"UPDATE \"embkit_{schema}\".meta SET value = '2' WHERE key = 'schema_version'; "
                      f"DELETE FROM \"embkit_{schema}\".meta WHERE key = 'kw_tokenizer'", dbname="embkit_tests")
    (folder / "keyword").mkdir(parents=True)  # version 2 kept bm25s files here
    (folder / "keyword" / "manifest.json").write_text("{}")
    col = embkit.open(url)
    assert col._store.meta("schema_version") == "3" and col._store.meta("kw_tokenizer") == DESCRIPTION
    assert col._store.keyword_stats()["docs"] == stats["docs"] and not (folder / "keyword").exists()
    for q, (rowids, scores) in before.items():
        again = col._store.keyword_top_k(list(q), 10)
        assert again[0].tolist() == rowids.tolist()
        np.testing.assert_allclose(again[1], scores, rtol=0, atol=1e-6)
    top = col._store.keyword_top_k(["gzip", "file"], 3)[0].tolist()
    assert [h.id for h in col.search("gzip files", mode="keyword", k=3)] == \
        [col._store.by_rowids(top)[r].id for r in top]
    col.close()


def test_another_tokenizer_s_postings_are_rebuilt_on_open(pg_server):
    url = Backend("postgres", server=pg_server)("tok")
    store = PostgresStore.create(url, [SPACE])
    rng = np.random.default_rng(3)
    write([store], rng, [Record(f"d{i}", t, {}) for i, t in enumerate(texts(rng, 20))], upsert=False)
    want = store.keyword_top_k(["file"], 10)
    with store.transaction() as c:
        c.execute(store.statement("DELETE FROM {s}.keyword_postings"))
        c.execute(store.statement("UPDATE {s}.meta SET value = 'another tokenizer' WHERE key = 'kw_tokenizer'"))
    store.close()
    store = PostgresStore.open(url)
    assert store.keyword_top_k(["file"], 10)[0].tolist() == want[0].tolist()
    assert json.dumps(store.meta("kw_tokenizer")) == json.dumps(DESCRIPTION)
    store.close()
