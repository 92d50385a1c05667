"""A term whose joined row (keyword_cache.JOINED: its blocks' bytes and keys, joined by
SQLite) is longer than the connection's SQLITE_LIMIT_LENGTH: SQLite refuses the row
("string or blob too big", sqlite3.DataError), and the term is read row by row instead,
each block far under the limit, so the entry and the query's ids and scores are those
of the joined read. The limit is lowered on the real connection (Python 3.11's
setlimit), so an ordinary term of this corpus is past it."""

import sqlite3

import numpy as np
import pytest

from embkit.store import keyword_sqlite
from embkit.store.keyword_cache import JOINED, KeywordCache, TermBlocks

from test_keyword_cache import indexed
from test_keyword_cache_fetch import assert_same_entry
from test_keyword_topk import DOCS, VOCAB, skewed_texts

pytest.importorskip("embkit.store.keyword_maxscore")  # the joined read needs the kernel loaded
LIMIT = 4096  # bytes: past the longest block (~800), under a frequent term's joined blocks


@pytest.fixture()
def conn():
    c, _ = indexed(skewed_texts(5, DOCS))
    yield c
    c.close()


def longest_block(c) -> int:
    return c.execute("SELECT max(length(postings)) FROM kw_blocks").fetchone()[0]


def joined_bytes(c, term) -> int:
    return c.execute("SELECT sum(length(postings)) FROM kw_blocks WHERE term = ?", (term,)).fetchone()[0]


def test_a_term_past_the_length_limit_is_read_row_by_row(conn):
    term = VOCAB[0]
    want = TermBlocks.fetch(conn, term, -1)  # the joined read, under the default limit
    assert joined_bytes(conn, term) > LIMIT > longest_block(conn)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, LIMIT)
    with pytest.raises(sqlite3.DataError):  # what the joined read alone meets
        conn.execute(JOINED, (term, -1)).fetchone()
    got = TermBlocks.fetch(conn, term, -1)
    assert_same_entry(got, want)
    key = int(want.firsts[len(want.firsts) // 2])  # from a key in the middle, as a write's next query reads
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1_000_000_000)
    want_tail = TermBlocks.fetch(conn, term, key)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, LIMIT)
    assert_same_entry(TermBlocks.fetch(conn, term, key), want_tail)


def test_queries_past_the_limit_find_the_same_ids_and_scores(conn):
    queries = [[VOCAB[0]], [VOCAB[0], VOCAB[1], VOCAB[7]], [VOCAB[3], VOCAB[150]], VOCAB[:12]]
    joined = []  # the statements of the joined read, as SQLite ran them
    conn.set_trace_callback(lambda sql: joined.append(sql) if "group_concat" in sql else None)
    want = [keyword_sqlite.top_k(conn, q, 25, None, KeywordCache()) for q in queries]
    conn.set_trace_callback(None)
    assert joined  # the joined read was the one taken
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, LIMIT)
    for q, (ids, scores) in zip(queries, want):
        got_ids, got_scores = keyword_sqlite.top_k(conn, q, 25, None, KeywordCache())
        np.testing.assert_array_equal(got_ids, ids)
        np.testing.assert_array_equal(got_scores, scores)
        assert len(ids) == 25
