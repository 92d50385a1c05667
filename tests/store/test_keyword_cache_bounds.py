"""The keyword block cache's memory bound (store/keyword_cache.py) holds for entries of
terms with no blocks too: queries of words absent from the collection (a server's users
type anything) must not grow the cache without end."""

import sqlite3
import sys

from embkit.store import keyword_sqlite
from embkit.store.keyword_cache import KeywordCache


def test_absent_terms_count_against_the_budget():
    """Each absent term was kept as an entry of 0 bytes: 5,000 of them held ~5,000
    objects (several MB at scale) under a budget of 100 kB that they never reached."""
    c = sqlite3.connect(":memory:", isolation_level=None)
    c.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    cache = KeywordCache(max_bytes=100_000)
    keyword_sqlite.create(c)
    keyword_sqlite.update(c, {}, {1: "w1 w2", 2: "w2 w3"}, cache)
    for i in range(0, 5000, 50):
        ids, _ = keyword_sqlite.top_k(c, [f"absent{j}" for j in range(i, i + 50)], 5, None, cache)
        assert ids.tolist() == []
    held = cache._entries
    real = sum(sys.getsizeof(e) + sum(a.nbytes + 112 for a in (e.starts, e.firsts, e.counts, e.max_tf, e.min_dl))
               for e in held.values())
    assert cache._bytes <= cache.max_bytes and real <= 2 * cache.max_bytes
