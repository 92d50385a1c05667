"""The parts of a block the compiled keyword top-k reads without decoding it whole
(store/keyword_maxscore.py): a looked-up block's row ids alone (or gap by gap), then the
tf and dl of the one posting found; and every block's header gathered from the joined bytes
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


@pytest.mark.parametrize("gap,tf,dl", FORMS)
def test_row_ids_read_gap_by_gap_agree_with_decode(gap, tf, dl):
    # a looked-up block is read one gap at a time from its header's first row id
    want = make(gap, tf, dl)
    blob = kb.encode(want)
    buf = np.frombuffer(b"\xff" * 5 + blob + b"\xff" * 5, dtype=np.uint8)
    width = buf[5 + 1] & 3
    rowid = kb.first_rowid(blob)
    got = [rowid]
    for j in range(len(want) - 1):
        rowid += keyword_maxscore._gap(buf, 5 + kb.HEADER.size, np.int64(width), j)
        got.append(rowid)
    assert got == want["rowid"].tolist()


def test_headers_gathered_from_joined_bytes_agree_with_each_blocks():
    blobs = [kb.encode(make(*form, start=7 + 100_000 * i)) for i, form in enumerate(FORMS)]
    starts = np.concatenate([[0], np.cumsum([len(b) for b in blobs])[:-1]]).astype(np.int64)
    gathered = kb.headers_at(np.frombuffer(b"".join(blobs), dtype=np.uint8), starts)
    for a, b in zip(gathered, kb.headers(blobs)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("rare_on_top", [True, False])
def test_first_floor_from_the_rarest_term_keeps_ties_and_better_documents(monkeypatch, rare_on_top):
    """The k-th best score of the query's rarest short term starts the floor
    (keyword_maxscore.FIRST_FLOOR_BLOCKS): its 14 holders score alike (same length, tf 1),
    so the k-th place is a tie resolved by row id; documents without it but with the
    common term many times must still come first when they score higher."""
    import sqlite3

    from embkit.store import keyword_sqlite, keyword_topk
    from embkit.store.keyword_cache import KeywordCache

    from test_keyword_maxscore_edits import brute

    monkeypatch.setattr(keyword_topk, "FEW", 4)
    rng = np.random.default_rng(7)
    texts = {r: " ".join(rng.choice(["w1", "w2", "w3", "w4", "w5"], size=8)) for r in range(1, 3_001)}
    for r in range(40, 3_000, 211):  # 14 holders of the rare word, each of the same length
        texts[r] = "zeta w2 w3 w4 w5 w2 w3 w4"
    if not rare_on_top:
        for r in range(7, 3_000, 97):  # the common word 12 times in a short text: above a rare one's holders
            texts[r] = " ".join(["w1"] * 12)
    c = sqlite3.connect(":memory:", isolation_level=None)
    c.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    keyword_sqlite.create(c)
    cache = KeywordCache()
    keyword_sqlite.update(c, {}, texts, cache)
    for k in (1, 10, 20):
        keyword_sqlite.top_k(c, ["zeta", "w1"], k, None, cache)  # the blocks held, so the compiled search runs
        ids, scores = keyword_sqlite.top_k(c, ["zeta", "w1"], k, None, cache)
        want_ids, want_scores = brute(texts, ["zeta", "w1"], k)
        assert ids.tolist() == want_ids, k
        assert scores.tobytes() == want_scores


def heads_of(blobs, keys):
    data = b"".join(blobs)
    return keyword_maxscore.block_heads(np.frombuffer(data, dtype=np.uint8), len(blobs),
                                        np.frombuffer(",".join(map(str, keys)).encode(), dtype=np.uint8))


def test_headers_read_by_compiled_code_agree_with_numpys():
    # keyword_cache reads a term joined by SQLite (blocks, and keys as "k1,k2,...") with block_heads
    blobs = [kb.encode(make(*form, start=7 + 100_000 * i)) for i, form in enumerate(FORMS)]
    keys = [kb.first_rowid(b) - i % 2 for i, b in enumerate(blobs)]  # a key may lie below its block's first row id
    starts, counts, table, address, well = heads_of(blobs, keys)
    assert well
    np.testing.assert_array_equal(starts, np.concatenate([[0], np.cumsum([len(b) for b in blobs])]))
    count, max_tf, min_dl, _ = kb.headers(blobs)
    for a, b in zip((counts, table[0], table[1], table[2], table[3]), (count, starts[:-1], keys, max_tf, min_dl)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("case", ["cut short", "keys falling", "a key missing", "a key too many", "not a number"])
def test_a_joined_term_that_does_not_add_up_is_not_well(case):
    # keyword_cache then reads the term a row per block
    blobs = [kb.encode(make(*form, start=7 + 100_000 * i)) for i, form in enumerate(FORMS[:4])]
    keys = [kb.first_rowid(b) for b in blobs]
    if case == "cut short":
        blobs[-1] = blobs[-1][:-1]
    elif case == "keys falling":
        keys[1], keys[2] = keys[2], keys[1]
    elif case == "a key missing":
        keys.pop()
    elif case == "a key too many":
        keys.append(keys[-1] + 1)
    else:
        keys[0] = "-1"
    assert heads_of(blobs, keys)[4] is False
    assert heads_of([kb.encode(make(*form, start=7 + 100_000 * i)) for i, form in enumerate(FORMS[:4])],
                    [kb.first_rowid(kb.encode(make(*form, start=7 + 100_000 * i)))
                     for i, form in enumerate(FORMS[:4])])[4] is True
