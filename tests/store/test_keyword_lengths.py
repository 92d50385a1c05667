"""The compiled keyword top-k (store/keyword_maxscore.py) drops a document by what the
terms left can add at the document's own length: on a corpus of short documents and a
few long ones (past keyword_maxscore.LENGTHS words, whose bound is the one at that
length) with words repeated many times in some, it returns the same row ids and float32
scores, bit for bit, as the exhaustive computation, with and without `allow`."""

import sqlite3

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from embkit.store import keyword_maxscore, keyword_sqlite, keyword_topk
from embkit.store.keyword_cache import KeywordCache

from test_keyword_topk import VOCAB, exhaustive

DOCS = 4_000
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
queries = st.lists(st.one_of(st.sampled_from(VOCAB[:12]), st.sampled_from(VOCAB[:80])), min_size=1, max_size=8)


def varied_texts(seed: int, count: int) -> dict[int, str]:
    """Texts of 1 to 60 words from a Zipf-like vocabulary; one in fifty of 900 to 2,500
    words; one in ten with a word repeated 2 to 40 times (high tf, in short and long)."""
    rng = np.random.default_rng(seed)
    p = 1 / np.arange(1, len(VOCAB) + 1) ** 1.1
    p /= p.sum()
    texts = {}
    for rowid in (np.sort(rng.choice(3 * count, size=count, replace=False)) + 1).tolist():
        size = int(rng.integers(900, 2_500)) if rng.random() < 0.02 else int(rng.integers(1, 61))
        words = list(rng.choice(VOCAB, size=size, p=p))
        if rng.random() < 0.1:
            words += [str(rng.choice(VOCAB[:40]))] * int(rng.integers(2, 41))
        texts[rowid] = " ".join(words)
    return texts


@pytest.fixture(scope="module")
def corpus():
    texts = varied_texts(5, DOCS)
    c = sqlite3.connect(":memory:", isolation_level=None)
    c.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    cache = KeywordCache()
    keyword_sqlite.create(c)
    keyword_sqlite.update(c, {}, texts, cache)
    lengths = [len(t.split()) for t in texts.values()]
    assert max(lengths) > keyword_maxscore.LENGTHS  # some documents take the longest length's bound
    return c, cache, texts


@pytest.fixture(autouse=True)
def compiled(monkeypatch):
    """Every query of more than a few blocks goes to the compiled search."""
    monkeypatch.setattr(keyword_topk, "FEW", 4)


def assert_same(c, cache, terms, k, allow=None):
    got = keyword_sqlite.top_k(c, terms, k, allow, cache)
    want = exhaustive(c, terms, k, allow)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])  # the same sums, added in the same order
    return got[0]


@SETTINGS
@given(terms=queries, k=st.sampled_from([1, 3, 10, 50]))
def test_equals_exhaustive(corpus, terms, k):
    c, cache, _ = corpus
    assert_same(c, cache, terms, k)


@SETTINGS
@given(terms=queries, k=st.sampled_from([1, 10]), seed=st.integers(0, 2**16))
def test_with_allow(corpus, terms, k, seed):
    c, cache, texts = corpus
    rng = np.random.default_rng(seed)
    assert_same(c, cache, terms, k, rng.choice(sorted(texts), size=len(texts) // 20, replace=False))


def test_a_long_document_with_the_word_many_times_is_found(corpus):
    """A document past LENGTHS words holding the rare query words most often wins."""
    c, cache, texts = corpus
    rowid = max(texts) + 1
    long_text = " ".join(["w0", "w1", "w2"] * 400 + ["w70"] * 300 + ["w71"] * 300)
    keyword_sqlite.update(c, {}, {rowid: long_text}, cache)
    try:
        found = assert_same(c, cache, ["w0", "w1", "w70", "w71", "w2"], 10)
        assert found[0] == rowid
    finally:
        keyword_sqlite.update(c, {rowid: long_text}, {}, cache)
