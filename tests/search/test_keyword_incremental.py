"""The keyword index changes write by write, yet scores exactly as one built from
scratch: after random interleavings of add, upsert (text changed, emptied, chunks
dropped) and delete, every query's ids and scores equal (1e-5) a fresh collection
holding the same documents and the same store's index rebuilt; on both backends."""

import random

import numpy as np
import pytest

import embkit
from embkit.store import keyword_blocks, keyword_sqlite
from embkit.store.keyword_terms import tokenize

WORDS = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda omicron sigma tau "
         "upsilon omega river stone cloud harbor").split()
QUERIES = ["alpha", "beta gamma", "river stone cloud", "omega omega tau", "harbor lambda kappa iota",
           "the of"]  # the last: stopwords only


def text(rng: random.Random) -> str:
    """A short text: a handful of words, skewed so some terms are common and some rare;
    now and then no terms at all (stopwords or punctuation only)."""
    roll = rng.random()
    if roll < 0.05:
        return "the of and"
    if roll < 0.08:
        return "!! --"
    return " ".join(WORDS[min(int(rng.expovariate(0.25)), len(WORDS) - 1)] for _ in range(rng.randint(1, 12)))


def apply_random_writes(col, rng: random.Random, steps: int) -> dict[str, str]:
    """Random adds, upserts and deletes (by id and by filter) on `col`; returns
    {id: text} it should now hold."""
    held: dict[str, tuple[str, int]] = {}  # id -> (text, group)
    serial = 0

    def write(method, ids):
        docs = [(text(rng), rng.randrange(10)) for _ in ids]
        getattr(col, method)(texts=[d[0] for d in docs], ids=ids, metadatas=[{"g": d[1]} for d in docs],
                             vectors=np.ones((len(ids), 4)), chunk=False)
        held.update(zip(ids, docs))

    for _ in range(steps):
        op = rng.random()
        if op < 0.45 or len(held) < 5:  # a batch of new documents
            write("add", [f"n{serial + i}" for i in range(rng.randint(1, 15))])
            serial += 15
        elif op < 0.75:  # replace some (their row ids keep their place), a new one in the same batch
            write("upsert", rng.sample(sorted(held), rng.randint(1, min(8, len(held)))) + [f"n{serial}"])
            serial += 1
        elif op < 0.9:  # delete by id
            gone = rng.sample(sorted(held), rng.randint(1, min(6, len(held))))
            col.delete(ids=gone)
            held = {i: d for i, d in held.items() if i not in gone}
        else:  # delete by filter
            group = rng.randrange(10)
            col.delete(where={"g": group})
            held = {i: d for i, d in held.items() if d[1] != group}
    return {i: d[0] for i, d in held.items()}


def scores_by_id(col, query: str) -> dict[str, float]:
    return {h.id: h.score for h in col.search(query, k=1000, mode="keyword")}


def assert_same(got: dict[str, float], want: dict[str, float]) -> None:
    assert got.keys() == want.keys()
    for i, score in want.items():
        assert got[i] == pytest.approx(score, abs=1e-5), i


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_equals_a_fresh_build(backend, seed, monkeypatch):
    monkeypatch.setattr(keyword_sqlite, "BLOCK", 4)  # many blocks per term: splits, partial rewrites
    rng = random.Random(seed)
    col = embkit.create(backend("inc"), model=None, dim=4)
    held = apply_random_writes(col, rng, 60)
    assert col.count() == len(held) > 20
    fresh = embkit.create(backend("fresh"), model=None, dim=4)
    fresh.add(texts=list(held.values()), ids=list(held), vectors=np.ones((len(held), 4)), chunk=False)
    before = {q: col.search(q, k=1000, mode="keyword") for q in QUERIES}
    for query in QUERIES:
        assert_same(scores_by_id(col, query), scores_by_id(fresh, query))
    assert before["the of"] == [] and len(before["alpha"]) > 5
    col._store.rebuild_keyword()  # the same store's index built again: the same ranking, row ids and all
    for query in QUERIES:
        again = col.search(query, k=1000, mode="keyword")
        assert [h.id for h in again] == [h.id for h in before[query]]
        np.testing.assert_allclose([h.score for h in again], [h.score for h in before[query]], atol=1e-6)
    assert col._store.keyword_stats()["docs"] == fresh._store.keyword_stats()["docs"]
    assert col._store.keyword_stats()["tokens"] == fresh._store.keyword_stats()["tokens"]


def test_postings_of_counts_each_texts_terms():
    """A write's postings are each document's terms as `tokenize` gives them, counted:
    tf per (term, document), dl the document's number of terms; documents without terms
    (empty, stopwords, punctuation) hold none and do not count."""
    rng = random.Random(4)
    texts = {r: text(rng) for r in range(1, 400, 3)} | {500: "", 501: None, 502: "Running runs ran, RUN! the"}
    by_term, docs, tokens = keyword_sqlite.postings_of(texts)
    want: dict[str, list[tuple[int, int, int]]] = {}
    for rowid in sorted(r for r, t in texts.items() if t):
        terms = tokenize([texts[rowid]])[0]
        for term in sorted(set(terms)):
            want.setdefault(term, []).append((rowid, terms.count(term), len(terms)))
    assert sorted(by_term) == sorted(want)
    for term, rows in want.items():
        assert by_term[term].tolist() == rows, term
    lengths = [len(tokenize([t])[0]) for t in texts.values() if t]
    assert (docs, tokens) == (sum(1 for n in lengths if n), sum(lengths))
    assert by_term["run"].tolist() == [(502, 3, 4)]  # "ran" is a term of its own; "the" a stopword


def test_blocks_cover_each_posting_once_after_random_writes(tmp_path, monkeypatch):
    """The block layout itself: per term, postings sorted, every live document once,
    each block within its bounds and at most BLOCK long."""
    monkeypatch.setattr(keyword_sqlite, "BLOCK", 3)
    col = embkit.create(tmp_path / "c", model=None, dim=4)
    held = apply_random_writes(col, random.Random(7), 50)
    conn = col._store._conn
    rowid_of = dict(conn.execute("SELECT id, rowid FROM docs").fetchall())
    expected, _, _ = keyword_sqlite.postings_of({rowid_of[i]: t for i, t in held.items()})
    terms = [t for (t,) in conn.execute("SELECT DISTINCT term FROM kw_blocks ORDER BY term")]
    assert terms == sorted(expected)
    for term in terms:
        rows = conn.execute("SELECT first, postings FROM kw_blocks WHERE term = ? ORDER BY first", (term,)).fetchall()
        blocks = [keyword_blocks.decode(p) for _, p in rows]
        assert all(0 < len(b) <= 3 for b in blocks)
        bounds = [f for f, _ in rows] + [2**63]
        for block, lo, hi in zip(blocks, bounds, bounds[1:]):
            assert np.all(np.diff(block["rowid"].astype(np.int64)) > 0)
            assert lo <= block["rowid"][0] and block["rowid"][-1] < hi
        np.testing.assert_array_equal(np.concatenate(blocks), expected[term])


def test_a_write_rewrites_only_the_blocks_its_documents_fall_in(tmp_path, monkeypatch):
    """Deleting two documents far apart touches their two blocks of a common term, not
    every block between them (review: 2,425 block rows rewritten for 2 deletions)."""
    monkeypatch.setattr(keyword_sqlite, "BLOCK", 4)
    col = embkit.create(tmp_path / "c", model=None, dim=4)
    col.add(texts=[f"common word{i}" for i in range(400)], ids=[f"d{i}" for i in range(400)],
            vectors=np.ones((400, 4)), chunk=False)
    conn = col._store._conn
    assert conn.execute("SELECT count(*) FROM kw_blocks WHERE term = 'common'").fetchone()[0] == 100
    def blocks():
        return set(conn.execute("SELECT term, first, postings FROM kw_blocks").fetchall())

    before = blocks()
    col.delete(ids=["d5", "d390"])
    after = blocks()
    assert len(before - after) == 4  # each document's blocks: one of "common", one of its own word
    assert len(after - before) == 2  # the two blocks of "common", rewritten in place
    assert [h.id for h in col.search("common", k=400, mode="keyword")] == \
        [f"d{i}" for i in range(400) if i not in (5, 390)]
