"""The keyword postings' block format (store/keyword_blocks.py): every width a column
can take round-trips exactly, at the edges of each width; appending by splicing bytes
gives the block a fresh encoding would decode to; and an index written in the older
8-byte format is rebuilt on open, scoring as before."""

import itertools
import sqlite3

import numpy as np
import pytest

import embkit
from embkit.store import keyword_blocks as kb, keyword_sqlite

GAPS = {"u1": [1, 255], "u2": [1, 256, 65535], "u4": [1, 65536]}  # gap lists that need each width
N = 24


def postings(rowids, tf, dl) -> np.ndarray:
    out = np.zeros(len(rowids), dtype=kb.POSTING)
    out["rowid"], out["tf"], out["dl"] = rowids, tf, dl
    return out


def make(gap: str, tf: str, dl: str, start: int = 7) -> np.ndarray:
    """N postings whose columns need exactly the given forms."""
    gaps = np.resize(GAPS[gap], N - 1)
    rowids = start + np.concatenate([[0], np.cumsum(gaps)])
    tfs = {"ones": np.ones(N), "exceptions": np.where(np.arange(N) % 10 == 3, 9, 1),
           "u1": np.resize([1, 2, 255], N), "u2": np.resize([1, 256], N)}[tf]
    dls = 300 + np.resize([0, 255] if dl == "u1" else [0, 256], N)
    return postings(rowids, tfs, dls)


@pytest.mark.parametrize("gap,tf,dl", list(itertools.product(GAPS, ["ones", "exceptions", "u1", "u2"], ["u1", "u2"])))
def test_every_width_combination_round_trips(gap, tf, dl):
    p = make(gap, tf, dl)
    blob = kb.encode(p)
    got = kb.decode(blob)
    assert got.dtype == kb.POSTING
    np.testing.assert_array_equal(got, p)
    flags = blob[1]
    assert flags & 3 == ["u1", "u2", "u4"].index(gap)  # the smallest width that holds the column
    assert flags >> 2 & 3 == ["ones", "exceptions", "u1", "u2"].index(tf)
    assert bool(flags & 16) == (dl == "u2")
    widths = {"u1": 1, "u2": 2, "u4": 4}
    tf_bytes = {"ones": 0, "exceptions": 1 + 2 * 3, "u1": N, "u2": 2 * N}[tf]
    assert len(blob) == kb.HEADER.size + (N - 1) * widths[gap] + tf_bytes + N * widths[dl]
    assert kb.bounds(blob) == (int(p["tf"].max()), int(p["dl"].min()))
    assert (kb.first_rowid(blob), kb.last_rowid(blob)) == (p["rowid"][0], p["rowid"][-1])


@pytest.mark.parametrize("rowids,tf,dl,size", [
    ([5], [1], [3], 10 + 1),  # one posting: the header and one dl byte
    ([5], [255], [65535], 10 + 1 + 1),
    ([5], [256], [1], 10 + 2 + 1),
    ([2**32 - 1], [1], [1], 10 + 1),  # the highest row id
    ([0, 2**32 - 1], [1, 1], [1, 1], 10 + 4 + 2),  # the widest gap
    ([0, 255], [255, 1], [1, 256], 10 + 1 + 2 + 2),  # gap 255, tf 255, dl spread 255: one byte each
    ([0, 256], [256, 1], [1, 257], 10 + 2 + 4 + 4),  # 256 of each: two bytes
    ([0, 65535], [1, 1], [9, 264], 10 + 2 + 2),  # span 65535: u2; dl spread 255: u1
    ([0, 65536], [1, 1], [9, 265], 10 + 4 + 4),  # span 65536: u4; dl spread 256: u2
    ([2**32 - 3, 2**32 - 2, 2**32 - 1], [1, 2, 1], [65535, 65535, 0], 10 + 2 + 3 + 6),
])
def test_edges_round_trip(rowids, tf, dl, size):
    p = postings(rowids, tf, dl)
    blob = kb.encode(p)
    np.testing.assert_array_equal(kb.decode(blob), p)
    assert len(blob) == size
    assert kb.last_rowid(blob) == rowids[-1] and kb.first_rowid(blob) == rowids[0]


def test_a_full_block_and_past_it():
    rng = np.random.default_rng(3)
    p = postings(np.sort(rng.choice(10**6, kb.MAX_POSTINGS, replace=False)), rng.integers(1, 4, kb.MAX_POSTINGS),
                 rng.integers(1, 200, kb.MAX_POSTINGS))
    np.testing.assert_array_equal(kb.decode(kb.encode(p)), p)
    with pytest.raises(ValueError, match="1 to 256"):
        kb.encode(np.concatenate([p, postings([10**7], [1], [1])]))
    with pytest.raises(ValueError, match="1 to 256"):
        kb.encode(p[:0])


def test_encode_many_gives_each_blocks_own_encoding():
    """Blocks encoded together (a write's new terms) are byte for byte what encoding
    each alone gives: every width combination, single postings of each tf form, full
    blocks, and random small blocks side by side in one call."""
    rng = np.random.default_rng(5)
    blocks = [make(*c) for c in itertools.product(GAPS, ["ones", "exceptions", "u1", "u2"], ["u1", "u2"])]
    blocks += [postings([9], [tf], [dl]) for tf, dl in [(1, 0), (2, 65535), (255, 3), (256, 7), (65535, 1)]]
    blocks.append(postings(np.arange(kb.MAX_POSTINGS) * 70_000, rng.integers(1, 3, kb.MAX_POSTINGS),
                           rng.integers(1, 300, kb.MAX_POSTINGS)))
    for _ in range(300):
        n = int(rng.integers(1, 12))
        blocks.append(postings(np.sort(rng.choice(2**32 - 1, n, replace=False)),
                               rng.choice([1, 1, 1, 1, 2, 3, 300], n), rng.integers(5, [40, 400][n % 2], n)))
    starts = np.cumsum([0] + [len(b) for b in blocks[:-1]]).tolist()
    assert kb.encode_many(kb.join(blocks), starts) == [kb.encode(b) for b in blocks]
    assert kb.encode_many(kb.join(blocks[:3]), starts[:3]) == [kb.encode(b) for b in blocks[:3]]  # few: one by one
    assert kb.encode_many(blocks[0][:0], []) == []
    for some, bad in [(blocks[:3], [0] + starts[:3]), (blocks, starts[:100] + starts[99:])]:  # an empty block
        with pytest.raises(ValueError, match="1 to 256"):
            kb.encode_many(kb.join(some), bad)


def test_append_splices_what_an_encoding_of_the_whole_decodes_to():
    """Every split of random blocks: the spliced block decodes to the whole, with the
    same bounds; None where the new postings need another width (then the caller
    encodes afresh) or the block would pass its limit."""
    rng = np.random.default_rng(11)
    spliced = refused = 0
    for trial in range(600):
        n = int(rng.integers(2, 80))
        span = [300, 70_000, 2**31][trial % 3]
        rowids = np.unique(rng.integers(0, span, n))
        n = len(rowids)
        if n < 2:
            continue
        p = postings(rowids, rng.choice([1, 1, 1, 1, 1, 1, 2, 3, 300][:int(rng.integers(1, 10))], n),
                     rng.integers(20, [40, 400][trial % 2], n))
        cut = int(rng.integers(1, n))
        got = kb.append(kb.encode(p[:cut]), p[cut:], kb.MAX_POSTINGS)
        if got is None:
            refused += 1
            continue
        spliced += 1
        np.testing.assert_array_equal(kb.decode(got), p)
        assert kb.bounds(got) == kb.bounds(kb.encode(p)) and kb.last_rowid(got) == rowids[-1]
    assert spliced > 300 and refused > 20
    block = kb.encode(postings([1, 2, 3], [1, 1, 1], [5, 5, 5]))
    assert kb.append(block, postings([4], [1], [5]), 3) is None  # past the limit
    assert kb.append(block, postings([400], [1], [5]), 10) is None  # a gap of 397 needs u2
    assert kb.append(block, postings([4], [1], [4]), 10) is None  # dl below the block's min
    np.testing.assert_array_equal(kb.decode(kb.append(block, postings([4], [1], [5]), 10)),
                                  postings([1, 2, 3, 4], [1, 1, 1, 1], [5, 5, 5, 5]))


def to_old_format(path) -> None:
    """The index of the collection at `path` as embkit wrote it before keyword_blocks:
    8-byte postings, no `kw_format` in meta."""
    db = sqlite3.connect(path / "embkit.db")
    with db:
        rows = db.execute("SELECT term, first, postings FROM kw_blocks").fetchall()
        db.executemany("UPDATE kw_blocks SET postings = ? WHERE term = ? AND first = ?",
                       [(kb.decode(p).tobytes(), t, f) for t, f, p in rows])
        db.execute("DELETE FROM meta WHERE key = 'kw_format'")
    db.close()


def test_an_index_in_the_old_format_is_rebuilt_on_open(tmp_path):
    texts = [f"river stone {'cloud ' * (i % 4)}harbor{i % 7} word{i}" for i in range(600)]
    col = embkit.create(tmp_path / "c", model=None, dim=4)
    col.add(texts=texts, ids=[f"d{i}" for i in range(600)], vectors=np.ones((600, 4)), chunk=False)
    queries = ["cloud", "harbor3 river", "word42 cloud stone"]
    expected = {q: [(h.id, h.score) for h in col.search(q, k=50, mode="keyword")] for q in queries}
    assert len(expected["cloud"]) == 50
    col.close()
    to_old_format(tmp_path / "c")
    db = sqlite3.connect(tmp_path / "c" / "embkit.db")
    assert keyword_sqlite.needs_rebuild(db) and not keyword_sqlite.format_is_current(db)
    db.close()
    with embkit.open(tmp_path / "c") as again:
        conn = again._store._conn
        assert keyword_sqlite.format_is_current(conn) and not keyword_sqlite.needs_rebuild(conn)
        assert again._store.meta("kw_format") == keyword_sqlite.FORMAT
        for q in queries:  # the same ids and the same float32 scores
            assert [(h.id, h.score) for h in again.search(q, k=50, mode="keyword")] == expected[q]
        by_term, _, _ = keyword_sqlite.postings_of(dict(conn.execute("SELECT rowid, text FROM docs")))
        for term, want in by_term.items():
            rows = conn.execute("SELECT postings FROM kw_blocks WHERE term = ? ORDER BY first", (term,)).fetchall()
            np.testing.assert_array_equal(np.concatenate([kb.decode(p) for (p,) in rows]), want)


def test_an_index_in_a_rowid_table_is_rebuilt_clustered_on_open(tmp_path):
    """A store of the same block bytes in the table layout before (a rowid table with a
    unique index) gets its index rebuilt on open: the same answers, blocks keyed by term."""
    texts = [f"river stone {'cloud ' * (i % 4)}harbor{i % 7} word{i}" for i in range(600)]
    col = embkit.create(tmp_path / "c", model=None, dim=4)
    col.add(texts=texts, ids=[f"d{i}" for i in range(600)], vectors=np.ones((600, 4)), chunk=False)
    expected = {q: [(h.id, h.score) for h in col.search(q, k=50, mode="keyword")] for q in ["cloud", "harbor3 river"]}
    blocks = set(col._store._conn.execute("SELECT term, first, postings FROM kw_blocks"))
    col.close()
    db = sqlite3.connect(tmp_path / "c" / "embkit.db")
    with db:
        db.execute("CREATE TABLE kw_old (term TEXT NOT NULL, first INTEGER NOT NULL, postings BLOB NOT NULL, "
                   "UNIQUE (term, first))")
        db.execute("INSERT INTO kw_old SELECT * FROM kw_blocks")
        db.execute("DROP TABLE kw_blocks")
        db.execute("ALTER TABLE kw_old RENAME TO kw_blocks")
        db.execute("UPDATE meta SET value = ? WHERE key = 'kw_format'", (kb.FORMAT,))  # what K2's embkit wrote
    assert keyword_sqlite.needs_rebuild(db)
    db.close()
    with embkit.open(tmp_path / "c") as again:
        conn = again._store._conn
        assert not keyword_sqlite.needs_rebuild(conn)
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'kw_blocks'").fetchone()[0]
        assert "WITHOUT ROWID" in sql
        assert set(conn.execute("SELECT term, first, postings FROM kw_blocks")) == blocks
        for q, want in expected.items():
            assert [(h.id, h.score) for h in again.search(q, k=50, mode="keyword")] == want


def test_an_old_format_index_on_a_read_only_store_refuses_keyword_search(tmp_path, monkeypatch):
    """Read-only, the old blocks cannot be rebuilt, and decoding them as the new format
    would score garbage: keyword search says so in one line; dense reads still work."""
    from embkit.errors import EmbkitError
    from embkit.store import sqlite as store_sqlite

    col = embkit.create(tmp_path / "c", model=None, dim=4)
    col.add(texts=["river stone", "cloud harbor"], ids=["a", "b"], vectors=np.eye(4)[:2], chunk=False)
    col.close()
    to_old_format(tmp_path / "c")
    monkeypatch.setattr(store_sqlite, "unwritable_reason", lambda db: "a read-only mount (this test)")
    with embkit.open(tmp_path / "c") as ro:
        assert ro._store.read_only
        with pytest.raises(EmbkitError, match="keyword index: .* older embkit's format and is read-only"):
            ro.search("river", mode="keyword")
        assert [h.id for h in ro.search(vector=[1, 0, 0, 0], k=1)] == ["a"]
    monkeypatch.undo()
    with embkit.open(tmp_path / "c") as rw:  # writable again: rebuilt, and found
        assert [h.id for h in rw.search("river", mode="keyword")] == ["a"]
