"""The parts of a block the compiled keyword top-k reads without decoding it whole
(store/keyword_maxscore.py): a looked-up block's row ids alone, then the tf and dl of
the one posting found; and every block's header gathered from the joined bytes
(keyword_blocks.headers_at, as keyword_cache reads a term). Each must agree with
keyword_blocks.decode / headers on blocks of every column form."""

import itertools

import numpy as np
import pytest

from embkit.store import keyword_blocks as kb

from test_keyword_blocks import GAPS, make

keyword_maxscore = pytest.importorskip("embkit.store.keyword_maxscore")
FORMS = list(itertools.product(GAPS, ["ones", "exceptions", "u1", "u2"], ["u1", "u2"]))


@pytest.mark.parametrize("gap,tf,dl", FORMS)
def test_row_ids_then_one_posting_agree_with_decode(gap, tf, dl):
    want = make(gap, tf, dl)
    blob = kb.encode(want)
    buf = np.frombuffer(b"\xff" * 5 + blob + b"\xff" * 5, dtype=np.uint8)  # the block amid other bytes
    rowids = np.empty(kb.MAX_POSTINGS, dtype=np.int64)
    n = keyword_maxscore._decode_rowids(buf, 5, rowids)
    assert n == len(want)
    np.testing.assert_array_equal(rowids[:n], want["rowid"])
    got = [keyword_maxscore._posting(buf, 5, j) for j in range(n)]
    assert got == list(zip(want["tf"].tolist(), want["dl"].tolist()))


def test_headers_gathered_from_joined_bytes_agree_with_each_blocks():
    blobs = [kb.encode(make(*form, start=7 + 100_000 * i)) for i, form in enumerate(FORMS)]
    starts = np.concatenate([[0], np.cumsum([len(b) for b in blobs])[:-1]]).astype(np.int64)
    gathered = kb.headers_at(np.frombuffer(b"".join(blobs), dtype=np.uint8), starts)
    for a, b in zip(gathered, kb.headers(blobs)):
        np.testing.assert_array_equal(a, b)
