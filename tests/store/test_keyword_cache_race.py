"""The keyword block cache (store/keyword_cache.py) against a write of the same
connection in another thread (the server searches in threads while a write runs):
blocks read while that write's transaction was open are never kept. The interleaving
is made exact by pausing the search thread at chosen lines of `KeywordCache.blocks`."""

import sqlite3
import sys
import threading

from embkit.store import keyword_cache, keyword_sqlite
from embkit.store.keyword_cache import KeywordCache

from thread_pause import paused_at

TEXTS = {i: "w7 w8" if i % 5 == 0 else "w9 w10 w11" for i in range(1, 60)}


def test_blocks_read_during_a_write_rolled_back_unmarked_are_not_kept(tmp_path):
    """A write's keyword statements ran (its transaction open) as a search began; the
    search read that write's uncommitted blocks; the write then failed before it could
    mark its terms (rolled back). The search must not keep those blocks: they were kept,
    and every later search for the term found nothing (its blocks deleted, uncommitted)."""
    c = sqlite3.connect(tmp_path / "db", isolation_level=None, check_same_thread=False)
    c.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    cache = KeywordCache()
    keyword_sqlite.create(c)
    keyword_sqlite.update(c, {}, TEXTS, cache)
    want = keyword_sqlite.top_k(c, ["w7"], 5)
    assert len(want[0]) == 5
    reached = [threading.Event(), threading.Event()]
    go = [threading.Event(), threading.Event()]
    got = []

    def search():
        sys.settrace(paused_at(keyword_cache.__file__, "blocks",
                               ["writes, state = self._writes", "stats = dict(conn.execute"], reached, go))
        try:
            got.append(keyword_sqlite.top_k(c, ["w7"], 5, None, cache))
        finally:
            sys.settrace(None)

    thread = threading.Thread(target=search)
    thread.start()
    assert reached[0].wait(10)  # the search checked for an open transaction: none yet
    c.execute("BEGIN IMMEDIATE")  # a write begins; its keyword statements run...
    c.execute("DELETE FROM kw_blocks WHERE term = 'w7'")
    go[0].set()
    # ...the search has read the blocks as they are inside it (or, seeing the transaction, read
    # SQLite without the cache and returned)...
    while not reached[1].wait(0.01) and thread.is_alive():
        pass
    c.execute("ROLLBACK")  # ...and the write fails before marking its terms
    go[1].set()
    thread.join(10)
    assert not thread.is_alive()
    for _ in range(2):  # the next searches: from the cache if it kept anything
        ids, scores = keyword_sqlite.top_k(c, ["w7"], 5, None, cache)
        assert ids.tolist() == want[0].tolist() and scores.tolist() == want[1].tolist()
