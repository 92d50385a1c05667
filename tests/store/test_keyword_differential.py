"""The compiled keyword top-k (keyword_maxscore.py: looked-up blocks decoded row ids first,
term bytes read in place in the cache, the first floor from the strongest short term)
against a float64 brute-force BM25 over the live texts (test_keyword_maxscore_edits.brute):
k above the matches and k = 1, many duplicate documents (ties at the k-th place), a rare
term of exactly 1, 8 or 9 blocks (FIRST_FLOOR_BLOCKS and one past it), deletions and
replacements after the terms were cached, a cache holding some of the query's terms and
not others, filters of every selectivity, 1- and 10-term queries. Same row ids, scores
within 1e-5."""

import sqlite3

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from embkit.store import keyword_sqlite, keyword_topk
from embkit.store.keyword_cache import KeywordCache

from test_keyword_maxscore_edits import brute

keyword_maxscore = pytest.importorskip("embkit.store.keyword_maxscore")
VOCAB = [f"w{i}" for i in range(40)]
# 10 examples (~40 s), each a 3,000-document index checked across edits (25 caught every planted bug)
SETTINGS = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(autouse=True)
def compiled(monkeypatch):
    monkeypatch.setattr(keyword_topk, "FEW", 4)


def blocks_of(c: sqlite3.Connection, term: str) -> int:
    return c.execute("SELECT count(*) FROM kw_blocks WHERE term = ?", (term,)).fetchone()[0]


def check(c, cache, texts, terms, k, allow):
    ids, scores = keyword_sqlite.top_k(c, terms, k, allow, cache)
    want_ids, want = brute(texts, terms, k, None if allow is None else set(allow.tolist()))
    assert ids.tolist() == want_ids, (terms, k)
    np.testing.assert_allclose(scores, np.frombuffer(want, np.float32), rtol=1e-5)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), blocks=st.sampled_from([1, 8, 9]), dup=st.sampled_from([0, 30, 600]),
       strong=st.booleans())
def test_against_brute_force(seed, blocks, dup, strong):
    rng = np.random.default_rng(seed)
    n = 3_000
    p = 1 / np.arange(1, len(VOCAB) + 1) ** 1.1
    texts = {r: " ".join(rng.choice(VOCAB, size=int(rng.integers(1, 30)), p=p / p.sum())) for r in range(1, n + 1)}
    holders = 256 * (blocks - 1) + int(rng.integers(1, 257))  # exactly `blocks` blocks of 256
    same = " ".join(rng.choice(VOCAB, size=6))
    rows = rng.permutation(np.arange(1, n + 1)).tolist()
    tied = min(dup // 2, holders)
    for i, r in enumerate(rows[:dup]):  # duplicates, `tied` of them holding the rare term: ties
        texts[r] = same + (" zeta" if i < tied else "")
    for r in rows[dup:dup + holders - tied]:
        texts[r] += " zeta" * int(rng.choice([1, 1, 1, 2, 5]))
    if strong:  # a common word many times in short texts: above the rare word's holders
        for r in rows[dup + holders:dup + holders + 40]:
            texts[r] = " ".join(["w1"] * int(rng.integers(8, 20)))
    c = sqlite3.connect(":memory:", isolation_level=None)
    c.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    keyword_sqlite.create(c)
    cache = KeywordCache()
    keyword_sqlite.update(c, {}, texts, cache)
    assert blocks_of(c, "zeta") == blocks
    queries = [["zeta"], ["zeta", same.split()[0]], ["zeta", *VOCAB[:9]], [*same.split()[:3], "zeta"],
               list(rng.choice(VOCAB, size=10)) + ["zeta"], [str(rng.choice(VOCAB))], ["zeta", "w1", "zeta"],
               ["w1", "w0", "zeta", "w2"]]
    for q in queries[:3]:  # some of the terms cached, not others
        keyword_sqlite.top_k(c, q, 5, None, cache)
    for step in range(3):  # before the edits, after one round, after two
        for terms in queries:
            for k in (1, 7, 10, 300, 5_000):
                selectivity = rng.choice([0.0, 0.01, 0.3, 1.0])
                allow = None if selectivity == 0 else np.sort(rng.choice(sorted(texts), replace=False,
                                                                         size=max(1, int(len(texts) * selectivity))))
                check(c, cache, texts, terms, k, allow)
        if step == 2:
            break
        old, new = {}, {}  # after caching: deletions, replacements (some gaining the rare term), additions
        for r in rng.choice(sorted(texts), size=200, replace=False).tolist():
            old[r] = texts[r]
            if rng.random() < 0.6:
                new[r] = same if rng.random() < 0.3 else old[r] + " zeta" if rng.random() < 0.5 else ""
        for r in range(max(texts) + 1, max(texts) + 50):
            new[r] = same + " zeta"
        keyword_sqlite.update(c, old, new, cache)
        for r in old:
            texts.pop(r)
        texts.update(new)
