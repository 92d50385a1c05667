"""How the keyword cache reads a term from SQLite (store/keyword_cache.py TermBlocks.fetch):
once the compiled kernel is loaded, one joined row (SQLite concatenates the blocks and
their keys), else a row per block. Both must give the very same entry, from any key on;
and a joined row not in key order (SQLite does not promise group_concat's order) must
not be kept."""

import sys

import numpy as np
import pytest

from embkit.store import keyword_cache
from embkit.store.keyword_cache import TermBlocks

from test_keyword_cache import indexed
from test_keyword_topk import DOCS, VOCAB, skewed_texts

keyword_maxscore = pytest.importorskip("embkit.store.keyword_maxscore")  # the joined read needs it loaded
FIELDS = ("starts", "firsts", "counts", "max_tf", "min_dl", "table")


@pytest.fixture(scope="module")
def conn():
    c, _ = indexed(skewed_texts(5, DOCS))
    return c


def by_rows(c, term, key, monkeypatch):
    with monkeypatch.context() as m:
        m.delitem(sys.modules, "embkit.store.keyword_maxscore")  # as before any query loaded the kernel
        return TermBlocks.fetch(c, term, key)


def assert_same_entry(a: TermBlocks, b: TermBlocks):
    for field in FIELDS:
        x, y = (a.table(), b.table()) if field == "table" else (getattr(a, field), getattr(b, field))
        assert x.dtype == y.dtype and x.tolist() == y.tolist(), field
    assert a.flat()[0].tobytes() == b.flat()[0].tobytes() and a.flat()[2] == b.flat()[2]
    assert a.nbytes == b.nbytes


def test_joined_and_row_by_row_reads_agree(conn, monkeypatch):
    many = 0
    for term in [*VOCAB[:40], "absent"]:
        rows = by_rows(conn, term, -1, monkeypatch)
        assert_same_entry(TermBlocks.fetch(conn, term, -1), rows)
        many += len(rows.firsts) > 1
        if len(rows.firsts) > 2:  # from a key in the middle, as a write's next query reads
            key = int(rows.firsts[len(rows.firsts) // 2])
            assert_same_entry(TermBlocks.fetch(conn, term, key), by_rows(conn, term, key, monkeypatch))
    assert many > 5  # terms of several blocks were read


def test_a_joined_row_out_of_key_order_is_not_kept(conn, monkeypatch):
    # blocks joined last to first: their keys fall, so the term is read row by row instead
    term = VOCAB[0]
    want = by_rows(conn, term, -1, monkeypatch)
    assert len(want.firsts) > 2
    monkeypatch.setattr(keyword_cache, "JOINED", keyword_cache.JOINED.replace(
        "FROM kw_blocks WHERE term = ? AND first >= ?",
        "FROM (SELECT first, postings FROM kw_blocks WHERE term = ? AND first >= ? ORDER BY first DESC)"))
    got = TermBlocks.fetch(conn, term, -1)
    assert_same_entry(got, want)
    assert np.all(np.diff(got.firsts) > 0)
