"""The pruned keyword top-k (store/keyword_topk.py) against the exhaustive computation
(every block decoded, every posting scored): the same row ids in the same order, the
same float32 scores bit for bit (summed in query order), on corpora whose term
frequencies are skewed (so frequent terms have many blocks and pruning happens), with
ties at the k-th place, `allow`, repeated query terms, k past the matches, and after
deletes; and keyword_decode.decode_many against keyword_blocks.decode block by block."""

import sqlite3

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from embkit.store import bm25, keyword_blocks, keyword_decode, keyword_sqlite, keyword_topk
from embkit.store.keyword_terms import tokenize_terms

VOCAB = [f"w{i}" for i in range(300)]
DOCS = 9_000
TIED = "tiedword"  # in TIES identical documents: their scores tie for any query holding it
TIES = 40


def index(texts: dict[int, str]) -> sqlite3.Connection:
    """A keyword index of {row id: text}, as a store keeps it (its own tables and meta)."""
    c = sqlite3.connect(":memory:", isolation_level=None)
    c.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    keyword_sqlite.create(c)
    keyword_sqlite.update(c, {}, texts)
    return c


def skewed_texts(seed: int, count: int) -> dict[int, str]:
    """Texts of 1 to 30 words drawn from a Zipf-like vocabulary (a few words in most
    documents, most in few), a fifth of them copies of earlier ones, and TIES copies of
    one text holding TIED; row ids with gaps, as deletes leave them."""
    rng = np.random.default_rng(seed)
    p = 1 / np.arange(1, len(VOCAB) + 1) ** 1.1
    p /= p.sum()
    rowids = np.sort(rng.choice(4 * count, size=count, replace=False)) + 1
    texts: dict[int, str] = {}
    for n, rowid in enumerate(rowids.tolist()):
        if n and rng.random() < 0.2:
            texts[rowid] = texts[int(rng.choice(list(texts)))]
        else:
            texts[rowid] = " ".join(rng.choice(VOCAB, size=int(rng.integers(1, 31)), p=p))
    for rowid in rng.choice(rowids, size=TIES, replace=False).tolist():
        texts[rowid] = f"{TIED} w0 w1 w7 w40"
    return texts


def exhaustive(c: sqlite3.Connection, terms: list[str], k: int, allow=None) -> tuple[np.ndarray, np.ndarray]:
    """Every posting of every query term scored, summed per document in query order."""
    stats = dict(c.execute("SELECT key, CAST(value AS INTEGER) FROM meta WHERE key IN ('kw_docs', 'kw_tokens')"))
    empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    if not terms or k <= 0 or not stats["kw_docs"]:
        return empty
    repeats = dict.fromkeys(terms, 0)
    for term in terms:
        repeats[term] += 1
    rowids, scores = [], []
    for term, times in repeats.items():
        blobs = [r[0] for r in c.execute("SELECT postings FROM kw_blocks WHERE term = ? ORDER BY first", (term,))]
        if blobs:
            p = np.concatenate([keyword_blocks.decode(b) for b in blobs])
            weight = bm25.idf(stats["kw_docs"], len(p)) * times
            rowids.append(p["rowid"].astype(np.int64))
            scores.append(bm25.term_scores(p["tf"], p["dl"], stats["kw_tokens"] / stats["kw_docs"], weight))
    if not rowids:
        return empty
    found, inverse = np.unique(np.concatenate(rowids), return_inverse=True)
    totals = np.bincount(inverse, weights=np.concatenate(scores)).astype(np.float32)
    keep = totals > 0
    if allow is not None:
        keep &= np.isin(found, np.asarray(allow, dtype=np.int64))
    found, totals = found[keep], totals[keep]
    order = np.lexsort((found, -totals))[:k]
    return found[order], totals[order]


def assert_same(c, terms, k, allow=None):
    got_ids, got_scores = keyword_sqlite.top_k(c, terms, k, allow)
    want_ids, want_scores = exhaustive(c, terms, k, allow)
    assert got_ids.dtype == np.int64 and got_scores.dtype == np.float32
    np.testing.assert_array_equal(got_ids, want_ids)
    np.testing.assert_array_equal(got_scores, want_scores)  # the same sums, added in the same order
    return got_ids


class Corpus(tuple):
    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example
        return f"<corpus of {len(self[1])} documents>"


@pytest.fixture(autouse=True, params=["default", "pruned"])
def few(request, monkeypatch):
    """Each test with the module's threshold, and with one low enough that every query
    here of more than a few blocks takes the pruned path."""
    if request.param == "pruned":
        monkeypatch.setattr(keyword_topk, "FEW", 4)
    return keyword_topk.FEW


@pytest.fixture(scope="module")
def corpus():
    texts = skewed_texts(7, DOCS)
    assert all(tokenize_terms(w) == [w] for w in VOCAB + [TIED])  # the words are their own terms
    return Corpus((index(texts), texts))


queries = st.lists(st.one_of(st.sampled_from(VOCAB[:12]), st.sampled_from(VOCAB), st.just(TIED), st.just("absent")),
                   min_size=1, max_size=9)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(terms=queries, k=st.sampled_from([1, 3, 10, 37, 100_000]))
def test_pruned_equals_exhaustive(corpus, terms, k):
    assert_same(corpus[0], terms, k)


@SETTINGS
@given(terms=queries, k=st.sampled_from([1, 10, 50]), data=st.data())
def test_with_allow(corpus, terms, k, data):
    c, texts = corpus
    rowids = sorted(texts)
    share = data.draw(st.sampled_from([0.0, 0.001, 0.01, 0.3, 1.0]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    allow = rng.choice(rowids, size=int(share * len(rowids)), replace=False)
    allow = np.concatenate([allow, [0, 10 * DOCS]])  # row ids with no document are ignored
    assert_same(c, terms, k, rng.permutation(allow))


def test_ties_at_the_kth_place_resolve_by_row_id(corpus):
    c, texts = corpus
    tied = sorted(r for r, t in texts.items() if t.startswith(TIED))
    for k in (1, 5, TIES - 1):
        ids = assert_same(c, [TIED, "w0"], k)
        np.testing.assert_array_equal(ids, tied[:k])  # the tied documents lead, lowest row ids first


def test_repeated_terms_and_k_past_the_matches(corpus):
    c, _ = corpus
    assert_same(c, ["w5", "w120", "w5", "w0", "w120", "w5"], 10)
    ids = assert_same(c, ["w299", "w298", "w0"], 100_000)
    assert len(ids) > 0.5 * DOCS  # every match, w0 being in most documents


def test_nothing_to_find():
    c = index({1: "w1 w2", 2: "w3"})
    for terms, k in [([], 10), (["w1"], 0), (["absent"], 10)]:
        ids, scores = keyword_sqlite.top_k(c, terms, k)
        assert len(ids) == len(scores) == 0
    assert len(keyword_sqlite.top_k(index({}), ["w1"], 10)[0]) == 0


def test_frequent_terms_are_decoded_only_where_a_top_document_can_be(corpus, monkeypatch, few):
    c, _ = corpus
    terms = ["w250", "w1", "w0", "w2"]  # one rare term, three in most documents
    total = c.execute("SELECT count(*) FROM kw_blocks WHERE term IN (?, ?, ?, ?)", terms).fetchone()[0]
    decoded = []
    real = keyword_decode.decode_columns
    monkeypatch.setattr(keyword_decode, "decode_columns",
                        lambda blobs, heads=None: decoded.append(len(blobs)) or real(blobs, heads))
    assert_same(c, terms, 10)
    assert sum(decoded) < total if total > few else sum(decoded) == total


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**16), share=st.sampled_from([0.1, 0.5, 0.95]))
def test_after_deletes(seed, share):
    texts = skewed_texts(seed, 3_000)
    c = index(texts)
    rng = np.random.default_rng(seed)
    gone = rng.choice(sorted(texts), size=int(share * len(texts)), replace=False).tolist()
    keyword_sqlite.update(c, {r: texts[r] for r in gone}, {})
    for terms in (["w0", "w1", "w2", "w3"], ["w200", "w0", TIED], ["w9", "w9", "w50", "w1"]):
        for k in (1, 10, 1000):
            assert_same(c, terms, k)


def test_decode_many_equals_decode_block_by_block(corpus):
    assert keyword_decode.FORMAT == keyword_blocks.FORMAT  # else decode_many falls back to decode
    c, _ = corpus
    blobs = [r[0] for r in c.execute("SELECT postings FROM kw_blocks ORDER BY term, first")]
    rng = np.random.default_rng(3)
    for size in (1, 2, 17, len(blobs)):
        chosen = [blobs[i] for i in rng.choice(len(blobs), size=size, replace=False)]
        np.testing.assert_array_equal(keyword_decode.decode_many(chosen),
                                      np.concatenate([keyword_blocks.decode(b) for b in chosen]))
    assert len(keyword_decode.decode_many([])) == 0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 256), st.sampled_from([300, 70_000, 2**32 - 1]),
                          st.sampled_from([(1, 1), (1, 3), (1, 300), (1, 65_535)]),
                          st.sampled_from([200, 65_535]), st.integers(0, 2**16)), min_size=1, max_size=6))
def test_decode_many_every_width(blocks):
    """Blocks of every gap, tf and dl form, decoded together."""
    made = []
    for n, span, tf_range, dl_top, seed in blocks:
        rng = np.random.default_rng(seed)
        p = np.zeros(min(n, span), dtype=keyword_blocks.POSTING)
        p["rowid"] = np.sort(rng.choice(span, size=len(p), replace=False))
        p["tf"] = np.where(rng.random(len(p)) < 0.9, 1, rng.integers(tf_range[0], tf_range[1] + 1, len(p)))
        p["dl"] = rng.integers(1, dl_top + 1, len(p))
        made.append(p)
    blobs = [keyword_blocks.encode(p) for p in made]
    got = keyword_decode.decode_many(blobs)
    np.testing.assert_array_equal(got, np.concatenate(made))
    counts, _, min_dl, first = keyword_blocks.headers(blobs)  # given by the caller: the same columns
    given = keyword_decode.decode_columns(blobs, (counts, min_dl.astype(np.int64), first.astype(np.int64)))
    for column, name in zip(given, ("rowid", "tf", "dl")):
        np.testing.assert_array_equal(column, got[name])


def test_covering_and_bound_of_place_sorted_row_ids_in_blocks(corpus, monkeypatch):
    """Each row id's block found by placing the blocks' first row ids among the row ids
    equals a search of each row id among the blocks; before the first block: -1, bound 0."""
    c, _ = corpus
    terms = ["w0", "w3", "w250"]
    per_term = [sorted(c.execute("SELECT first, postings FROM kw_blocks WHERE term = ?", (t,)).fetchall())
                for t in terms]
    monkeypatch.setattr(keyword_topk, "FEW", 0)  # bounds are computed for a query that prunes
    blocks = keyword_topk._Blocks(per_term, [1, 1, 1], DOCS, 10.0)
    rng = np.random.default_rng(5)
    done = rng.random(len(blocks.blobs)) < 0.5
    for size in (0, 1, 50, 5_000):
        rowids = np.unique(rng.integers(0, 4 * DOCS + 10, size))
        for t in range(len(terms)):
            first, n = blocks.offsets[t], blocks.sizes[t]
            at = np.searchsorted(blocks.starts[first:first + n], rowids, side="right") - 1
            want = np.where(at >= 0, at + first, -1)
            np.testing.assert_array_equal(blocks.covering(t, rowids), want)
            bound = np.where((want >= 0) & ~done[want], blocks.bounds[want], 0.0)
            np.testing.assert_array_equal(blocks.bound_of(t, rowids, done), bound)


class _Reordered:
    """A connection whose statements' rows come back in reverse: SQLite gives no order
    to a UNION ALL without ORDER BY, so top_k must find the statistics wherever they are."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def execute(self, sql: str, params=()):
        rows = self.conn.execute(sql, params).fetchall()[::-1]
        return type("Rows", (), {"fetchall": lambda self: rows})()


def test_statistics_found_wherever_the_statement_puts_them(corpus):
    c, _ = corpus
    for terms in (["w5", "w120", "w0"], [TIED, "w0"], ["w299"]):
        got, want = keyword_topk.top_k(_Reordered(c), terms, 10), exhaustive(c, terms, 10)
        assert len(want[0]) > 0
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
