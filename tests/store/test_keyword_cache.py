"""The keyword blocks held in memory (store/keyword_cache.py) and the compiled document-
at-a-time top-k over them (store/keyword_maxscore.py): the same row ids and float32
scores, bit for bit, as the exhaustive computation, with ties, `allow` and repeated
terms; and a cache brought up to date by this connection's writes (appends, deletes,
replacements, a rolled-back write), emptied by another connection's commit, and never
used inside a transaction."""

import sqlite3

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from embkit.store import keyword_maxscore, keyword_sqlite, keyword_topk
from embkit.store.keyword_cache import KeywordCache, TermBlocks

from test_keyword_topk import DOCS, TIED, VOCAB, exhaustive, skewed_texts

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
queries = st.lists(st.one_of(st.sampled_from(VOCAB[:12]), st.sampled_from(VOCAB), st.just(TIED), st.just("absent")),
                   min_size=1, max_size=9)


def indexed(texts: dict[int, str], path: str = ":memory:") -> tuple[sqlite3.Connection, KeywordCache]:
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    cache = KeywordCache()
    keyword_sqlite.create(c)
    keyword_sqlite.update(c, {}, texts, cache)
    return c, cache


def assert_same(c, cache, terms, k, allow=None):
    got = keyword_sqlite.top_k(c, terms, k, allow, cache)
    want = exhaustive(c, terms, k, allow)
    assert got[0].dtype == np.int64 and got[1].dtype == np.float32
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])  # the same sums, added in the same order
    return got[0]


@pytest.fixture(scope="module")
def corpus():
    texts = skewed_texts(11, DOCS)
    return (*indexed(texts), texts)


@pytest.fixture(autouse=True, params=["default", "compiled"])
def few(request, monkeypatch):
    """Each test with the module's threshold, and with one so low that every query of
    more than a few blocks goes to the compiled search."""
    if request.param == "compiled":
        monkeypatch.setattr(keyword_topk, "FEW", 4)


@SETTINGS
@given(terms=queries, k=st.sampled_from([1, 3, 10, 37, 100_000]))
def test_equals_exhaustive(corpus, terms, k):
    c, cache, _ = corpus
    assert_same(c, cache, terms, k)


@SETTINGS
@given(terms=queries, k=st.sampled_from([1, 10, 50]), data=st.data())
def test_with_allow(corpus, terms, k, data):
    c, cache, texts = corpus
    share = data.draw(st.sampled_from([0.0, 0.001, 0.01, 0.3, 1.0]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    allow = rng.choice(sorted(texts), size=int(share * len(texts)), replace=False)
    assert_same(c, cache, terms, k, rng.permutation(np.concatenate([allow, [0, 10 * DOCS]])))


def test_ties_and_repeated_terms(corpus):
    c, cache, texts = corpus
    tied = sorted(r for r, t in texts.items() if t.startswith(TIED))
    for k in (1, 5, 39):
        np.testing.assert_array_equal(assert_same(c, cache, [TIED, "w0"], k), tied[:k])
    assert_same(c, cache, ["w5", "w120", "w5", "w0", "w120", "w5"], 10)
    assert len(assert_same(c, cache, ["w299", "w298", "w0"], 100_000)) > 0.5 * DOCS


def test_compiled_search_skips_documents(corpus):
    """The compiled path returns far fewer candidates than the documents matching."""
    c, cache, _ = corpus
    terms = ["w250", "w1", "w0", "w2"]
    entries, docs, tokens = cache.blocks(c, terms)
    found, _ = keyword_maxscore.top_k([entries[t] for t in terms], [1] * 4, docs, tokens / docs, 10, None,
                                      keyword_topk.SLACK)
    assert 10 <= len(found) < 0.2 * DOCS


def blocks_in_sql(c, term):
    return c.execute("SELECT first, postings FROM kw_blocks WHERE term = ? ORDER BY first", (term,)).fetchall()


def test_writes_bring_the_cache_up_to_date():
    rng = np.random.default_rng(5)
    texts = skewed_texts(3, 3_000)
    c, cache = indexed(texts)
    query = ["w0", "w1", "w3", "w17", TIED]
    assert_same(c, cache, query, 10)
    top = max(texts) + 1
    for step in range(12):
        old, new = {}, {}
        if step % 3 == 0:  # new documents: each term's last block
            new = {top + i: " ".join(rng.choice(VOCAB[:20], size=8)) for i in range(int(rng.integers(1, 300)))}
            top += len(new)
        elif step % 3 == 1:  # deletes anywhere
            gone = rng.choice(sorted(texts), size=200, replace=False).tolist()
            old = {r: texts[r] for r in gone}
        else:  # replacements
            changed = rng.choice(sorted(texts), size=50, replace=False).tolist()
            old = {r: texts[r] for r in changed}
            new = {r: "w0 w3 " + " ".join(rng.choice(VOCAB, size=5)) for r in changed}
        c.execute("BEGIN")
        keyword_sqlite.update(c, old, new, cache)
        c.execute("COMMIT")
        for r in old:
            texts.pop(r)
        texts.update(new)
        for k in (1, 10, 100):
            assert_same(c, cache, query, k)
        entries, _, _ = cache.blocks(c, query)
        for term in entries:  # what the cache holds is what SQLite holds
            assert list(zip(entries[term].firsts.tolist(), entries[term].blobs())) == blocks_in_sql(c, term)


def test_a_rolled_back_write_leaves_the_cache_right():
    texts = skewed_texts(4, 2_000)
    c, cache = indexed(texts)
    query = ["w0", "w2", "w9"]
    before = assert_same(c, cache, query, 10)
    c.execute("BEGIN")
    keyword_sqlite.update(c, {}, {max(texts) + 1: "w9 w9 w9 w2"}, cache)
    assert keyword_sqlite.top_k(c, query, 1, None, cache)[0][0] == max(texts) + 1  # the transaction's own view
    assert cache.blocks(c, query) is None  # nothing read inside a transaction is kept
    c.execute("ROLLBACK")
    np.testing.assert_array_equal(assert_same(c, cache, query, 10), before)


def test_another_connection_commit_empties_the_cache(tmp_path):
    texts = skewed_texts(6, 2_000)
    c, cache = indexed(texts, str(tmp_path / "kw.db"))
    query = ["w0", "w4", "w11"]
    assert_same(c, cache, query, 10)
    other = sqlite3.connect(tmp_path / "kw.db", isolation_level=None)
    other.execute("BEGIN")
    keyword_sqlite.update(other, {}, {max(texts) + 1: "w11 w11 w11 w4 w4"})  # no cache: not this store's
    other.execute("COMMIT")
    assert assert_same(c, cache, query, 1)[0] == max(texts) + 1


def test_rebuild_empties_the_cache():
    c, cache = indexed({1: "w1 w2", 2: "w2 w3"})
    assert_same(c, cache, ["w2"], 10)
    c.execute("UPDATE meta SET value = '0' WHERE key IN ('kw_docs', 'kw_tokens')")  # rebuild reads docs: none here
    c.execute("CREATE TABLE docs (rowid INTEGER PRIMARY KEY, text TEXT)")
    c.execute("INSERT INTO docs VALUES (5, 'w2 w7')")
    c.execute("BEGIN")
    keyword_sqlite.rebuild(c, cache=cache)
    c.execute("COMMIT")
    assert assert_same(c, cache, ["w2"], 10).tolist() == [5]


def test_least_recently_used_terms_leave_past_the_budget():
    c, _ = indexed(skewed_texts(8, 2_000))
    one = TermBlocks.read(blocks_in_sql(c, "w0")).nbytes
    cache = KeywordCache(max_bytes=int(2.5 * one))
    for term in ["w0", "w0", "w0"]:
        cache.blocks(c, [term])
    cache.blocks(c, ["w1", "w2", "w3"])
    assert cache._bytes <= cache.max_bytes and "w0" not in cache._entries


def test_a_change_not_marked_empties_the_cache():
    c, cache = indexed({1: "w1 w2", 2: "w2 w3", 3: "w2"})
    assert assert_same(c, cache, ["w2"], 10).tolist() == [3, 1, 2]
    c.execute("DELETE FROM kw_blocks WHERE term = 'w2'")  # by hand: no keyword_sqlite.update
    assert assert_same(c, cache, ["w2"], 10).tolist() == []


def test_without_numba_the_numpy_search_answers(corpus, monkeypatch):
    c, cache, _ = corpus
    monkeypatch.setattr(keyword_topk, "FEW", 4)
    monkeypatch.setattr(keyword_topk, "_compiled", lambda: None)  # as where numba is not installed
    for terms in (["w250", "w1", "w0", "w2"], ["w3", "w3", TIED, "w40"]):
        for k in (1, 10, 100):
            assert_same(c, cache, terms, k)
