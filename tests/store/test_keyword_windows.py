"""The compiled keyword top-k walks its essential terms a window of row ids at a time
(keyword_maxscore.WINDOW): documents spread over many windows (gaps wider than a window,
terms that end or start part-way), and thousands tied at the top (more than the output
arrays first hold, so they grow between windows), with and without `allow`: the row ids
and float32 scores of a float64 brute force over the texts."""

import sqlite3

import numpy as np
import pytest

from embkit.store import keyword_sqlite, keyword_topk
from embkit.store.keyword_cache import KeywordCache
from embkit.store.keyword_maxscore import WINDOW

from test_keyword_maxscore_edits import brute

VOCAB = [f"w{i}" for i in range(60)]


@pytest.fixture(autouse=True)
def compiled(monkeypatch):
    """Every query of more than a few blocks goes to the compiled search."""
    monkeypatch.setattr(keyword_topk, "FEW", 4)
    assert keyword_topk._compiled() is not None


def indexed(texts: dict[int, str]) -> tuple[sqlite3.Connection, KeywordCache]:
    c = sqlite3.connect(":memory:", isolation_level=None)
    c.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    cache = KeywordCache()
    keyword_sqlite.create(c)
    keyword_sqlite.update(c, {}, texts, cache)
    return c, cache


def check(c, cache, texts, terms, k, allow=None):
    ids, scores = keyword_sqlite.top_k(c, terms, k, allow, cache)
    want_ids, want_scores = brute(texts, terms, k, None if allow is None else set(allow.tolist()))
    assert ids.tolist() == want_ids, (terms, k)
    assert scores.tobytes() == want_scores


def test_documents_spread_over_many_windows():
    rng = np.random.default_rng(7)
    gaps = rng.choice([1, 2, 7, 3 * WINDOW], size=5_000, p=[0.6, 0.3, 0.095, 0.005])
    rows = np.cumsum(gaps).tolist()
    assert rows[-1] > 20 * WINDOW
    p = 1 / np.arange(1, len(VOCAB) + 1) ** 1.1
    texts = {r: " ".join(rng.choice(VOCAB, size=int(rng.integers(1, 30)), p=p / p.sum())) for r in rows}
    for r in rows[:300]:  # a word only near the start, one only near the end
        texts[r] += " w70"
    for r in rows[-300:]:
        texts[r] += " w71 w71"
    c, cache = indexed(texts)
    allow = np.array(rows[::9])
    for terms in (["w0", "w1", "w5", "w30"], ["w70", "w2", "w3"], ["w71", "w0", "w40", "w59"],
                  ["w70", "w71", "w1"], ["w7", "w7", "w50"]):
        for k in (1, 10, 200):
            check(c, cache, texts, terms, k)
            check(c, cache, texts, terms, k, allow)


def test_thousands_tied_at_the_top():
    texts = {r: "w1 w2" for r in range(1, 3 * WINDOW + 900)}  # identical: every one tied at the best score
    texts.update({r: "w3 w1 w4 w5 w6" for r in range(3 * WINDOW + 900, 3 * WINDOW + 3_000)})
    c, cache = indexed(texts)
    for k in (1, 5, 3 * WINDOW + 950):
        check(c, cache, texts, ["w1", "w2"], k)
        check(c, cache, texts, ["w2", "w1", "w4"], k, np.arange(0, 3 * WINDOW + 3_000, 2))
