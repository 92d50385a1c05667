"""The keyword (BM25) index of a SQLite store: postings in the store's own tables,
changed in the same transaction as the text they index.

A write that adds, replaces or deletes documents updates only the postings of the
terms those documents hold, so its cost follows the change, not the collection; the
index can never disagree with the store (one commit holds both), and since every
statistic is of the live documents, it scores exactly as one built from scratch.

Layout: `kw_blocks` holds each term's postings in blocks of up to BLOCK postings,
sorted by row id. A block covers the row ids from its `first` up to the next block's
`first`, so a write rewrites only the blocks its row ids fall in (for new documents,
whose AUTOINCREMENT row ids are the largest, the term's last block). A block's bytes
are keyword_blocks.py's format, named in `meta` (`kw_format`): an index written in
another format is rebuilt on open. The number of documents with terms and their total
length live in `meta` (`kw_docs`, `kw_tokens`).

The table is keyed by (term, first) WITHOUT ROWID, so a term's blocks lie side by side
in the file and a query reads them from a few pages instead of one page each (1.1x
faster at a million documents). Per-term directories of block headers, so that a query
fetches only the blocks it decodes, were tried and measured: a block fetched by key
costs about what scanning it with its neighbours does, so they saved nothing more and
cost every write. A store keeps the blocks of recently queried terms in memory instead
(keyword_cache.py), brought up to date by its own writes, and a query of many blocks is
scored document at a time in compiled code (keyword_maxscore.py).
"""

import json
import sqlite3
from typing import Callable, Mapping

import numpy as np

from ..errors import EmbkitError
from . import bm25, keyword_blocks, keyword_decode, keyword_topk
from .keyword_blocks import POSTING
from .keyword_cache import KeywordCache
from .keyword_terms import DESCRIPTION, term_ids

BLOCK = keyword_blocks.MAX_POSTINGS  # postings per block (~770 bytes for short texts); a write rewrites little
MAX_ROWID = 2**32 - 1
TABLES = ["""CREATE TABLE kw_blocks (
        term TEXT NOT NULL,
        first INTEGER NOT NULL,
        postings BLOB NOT NULL,
        PRIMARY KEY (term, first)
    ) WITHOUT ROWID"""]
FORMAT = keyword_blocks.FORMAT + "; clustered by term"  # the blocks' bytes and the table's layout (meta kw_format)
STATS = {"kw_docs": "0", "kw_tokens": "0", "kw_tokenizer": DESCRIPTION, "kw_format": FORMAT}
REBUILD_BATCH = 10_000
EMPTY = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))


def postings_of(texts: Mapping[int, str | None]) -> tuple[dict[str, np.ndarray], int, int]:
    """({term: postings sorted by row id}, documents with terms, their total length) of
    documents given as {row id: text}."""
    rowids = sorted(r for r, t in texts.items() if t)
    if rowids and rowids[-1] > MAX_ROWID:
        raise EmbkitError(f"rowid: the keyword index takes row ids up to {MAX_ROWID}, got {rowids[-1]}")
    if not rowids:
        return {}, 0, 0
    term_of, doc_of, terms = term_ids([texts[r] for r in rowids])
    lengths = np.bincount(doc_of, minlength=len(rowids))  # each document's terms
    if not len(term_of):
        return {}, 0, 0
    pairs, tf = np.unique(term_of * len(rowids) + doc_of, return_counts=True)  # term-major, then document
    term_id, docs = np.divmod(pairs, len(rowids))
    dl = np.minimum(lengths, bm25.MAX_COUNT)
    postings = np.empty(len(pairs), dtype=POSTING)
    postings["rowid"] = np.asarray(rowids, dtype=np.int64)[docs]
    postings["tf"] = np.minimum(tf, bm25.MAX_COUNT)
    postings["dl"] = dl[docs]
    cuts = np.flatnonzero(np.diff(term_id)) + 1
    starts, ends = np.concatenate([[0], cuts]), np.concatenate([cuts, [len(pairs)]])
    by_term = {terms[t]: postings[a:b] for t, a, b in zip(term_id[starts].tolist(), starts.tolist(), ends.tolist())}
    with_terms = lengths > 0
    return by_term, int(with_terms.sum()), int(dl[with_terms].sum())


def update(c: sqlite3.Connection, old: Mapping[int, str | None], new: Mapping[int, str | None],
           cache: KeywordCache | None = None) -> None:
    """Within the caller's transaction: documents `old` ({row id: text before}) leave the
    index and `new` ({row id: text now}) enter it; a row id in both is replaced. The
    terms whose blocks changed are marked in `cache` (the store's), if given."""
    removed, old_docs, old_tokens = postings_of(old)
    added, new_docs, new_tokens = postings_of(new)
    writes = _Writes()
    nothing = np.zeros(0, dtype=POSTING)
    last = _last_blocks(c, [t for t in added if t not in removed])
    pending: list[tuple[str, int | None, bytes | None, np.ndarray]] = []  # blocks to encode, all at once
    for term in sorted(removed.keys() | added.keys()):
        block = last.get(term)
        end = None if block is None else keyword_blocks.last_rowid(block[1])
        if term in last and (end is None or end < int(added[term]["rowid"][0])):
            _append(term, block, end, added[term], writes, pending)  # only new documents, after all the term's others
        else:
            _rewrite(c, term, removed.get(term, nothing)["rowid"], added.get(term, nothing), pending)
    _store_blocks(pending, writes)
    # Deletes before inserts, since (term, first) is unique; a block that keeps its key is
    # updated in place, so its row stays in its page instead of leaving a hole there.
    c.executemany("DELETE FROM kw_blocks WHERE term = ? AND first = ?", writes.deletes)
    c.executemany("UPDATE kw_blocks SET postings = ? WHERE term = ? AND first = ?", writes.updates)
    c.executemany("INSERT INTO kw_blocks (term, first, postings) VALUES (?, ?, ?)", writes.inserts)
    if cache is not None:
        cache.touched(writes.lowest_keys())
    if old_docs or new_docs:
        _add_stats(c, new_docs - old_docs, new_tokens - old_tokens)


class _Writes:
    """The block rows a write deletes, updates and inserts."""

    def __init__(self):
        self.deletes: list[tuple[str, int]] = []
        self.updates: list[tuple[bytes, str, int]] = []
        self.inserts: list[tuple[str, int, bytes]] = []

    def lowest_keys(self) -> dict[str, int]:
        """{term: the lowest block key written}: its blocks from there on changed."""
        lowest: dict[str, int] = {}
        for term, key in [*self.deletes, *((t, f) for _, t, f in self.updates), *((t, f) for t, f, _ in self.inserts)]:
            lowest[term] = min(key, lowest.get(term, key))
        return lowest


def _last_blocks(c: sqlite3.Connection, terms: list[str]) -> dict[str, tuple[int, bytes] | None]:
    """{term: (first, postings) of its last block, or None if it has none}, a few
    statements for all of a write's terms rather than one each."""
    out: dict[str, tuple[int, bytes] | None] = dict.fromkeys(terms)
    for i in range(0, len(terms), 500):
        chunk = terms[i:i + 500]
        # max(first) for one term is one seek down the key; grouped by term it reads every block
        out.update((t, (f, p)) for t, f, p in c.execute(
            "SELECT t.value, b.first, b.postings FROM json_each(?) t JOIN kw_blocks b ON b.term = t.value "
            "AND b.first = (SELECT max(first) FROM kw_blocks WHERE term = t.value)", (json.dumps(chunk),)))
    return out


def _append(term: str, last: tuple[int, bytes] | None, end: int | None, added: np.ndarray,
            writes: "_Writes", pending: list) -> None:
    """New postings after all of `term`'s others (the last of which is `end`): its last
    block filled, then new blocks (put in `pending` for `_store_blocks`)."""
    if last is None:
        pending.append((term, None, None, added))
    elif (spliced := keyword_blocks.append(last[1], added, BLOCK, end)) is not None:
        writes.updates.append((spliced, term, last[0]))  # the common case: no decoding
    else:
        pending.append((term, last[0], last[1], added))  # the block decoded and encoded with them


def _rewrite(c: sqlite3.Connection, term: str, gone: np.ndarray, added: np.ndarray, pending: list) -> None:
    """The blocks of `term` that the row ids `gone` and `added` fall in, each to be
    rewritten without `gone` and with `added` (put in `pending` for `_store_blocks`);
    the term's other blocks are left alone. Both arrays are sorted by row id."""
    touched = np.union1d(gone, added["rowid"]).astype(np.int64)
    covering = np.array([r[0] if r[0] is not None else -1 for r in c.execute(
        "SELECT (SELECT max(first) FROM kw_blocks WHERE term = ? AND first <= t.value) FROM json_each(?) t",
        (term, json.dumps(touched.tolist())))], dtype=np.int64)
    if (covering < 0).any():  # row ids before the term's first block: that block takes them
        lowest = c.execute("SELECT min(first) FROM kw_blocks WHERE term = ?", (term,)).fetchone()[0]
        covering[covering < 0] = -1 if lowest is None else lowest
    keys = sorted(set(covering.tolist()) - {-1})
    blocks = dict(c.execute(f"SELECT first, postings FROM kw_blocks WHERE term = ? AND first IN "
                            f"({','.join('?' * len(keys))})", [term, *keys]).fetchall()) if keys else {}
    for key in sorted(set(covering.tolist())):
        mine = touched[covering == key]
        current = keyword_blocks.decode(blocks[key]) if key in blocks else np.zeros(0, dtype=POSTING)
        both = keyword_blocks.join([current[~np.isin(current["rowid"], mine)], added[np.isin(added["rowid"], mine)]])
        merged = both[np.argsort(both["rowid"], kind="stable")]
        pending.append((term, None if key < 0 else key, None, merged))


def _store_blocks(pending: list[tuple[str, int | None, bytes | None, np.ndarray]], writes: _Writes) -> None:
    """Each (term, key, block, postings) of `pending`: the postings of `block` (if not
    None) followed by `postings`, sorted by row id, stored by `_store_block`. All the
    blocks are decoded in one call and encoded in one (keyword_decode.decode_many,
    keyword_blocks.encode_many): a write has thousands, mostly small (its new terms')."""
    if not pending:
        return  # every change spliced in (keyword_blocks.append): a small write's common case
    old = [blob for _, _, blob, _ in pending if blob is not None]
    decoded, d = _decoded(old), 0
    counts = iter(keyword_blocks.headers(old)[0].tolist() if old else [])
    parts, sizes = [], []
    for _, _, blob, postings in pending:
        if blob is not None:
            size = next(counts)
            parts.append(decoded[d:d + size])
            d += size
            sizes.append(size + len(postings))
        else:
            sizes.append(len(postings))
        parts.append(postings)
    everything = keyword_blocks.join(parts)
    starts, at = [], 0
    for size in sizes:
        starts.extend(range(at, at + size, BLOCK))
        at += size
    blobs = keyword_blocks.encode_many(everything, starts)
    firsts = everything["rowid"][starts].tolist()
    i = 0
    for (term, key, _, _), size in zip(pending, sizes):
        count = -(-size // BLOCK)
        _store_block(term, key, blobs[i:i + count], firsts[i:i + count], writes)
        i += count


def _decoded(blobs: list[bytes]) -> np.ndarray:
    """The postings of `blobs`, block after block: one at a time when they are few
    (decode_many's vector operations cost what ~10 blocks decoded alone do)."""
    if len(blobs) > keyword_blocks.FEW_BLOCKS:
        return keyword_decode.decode_many(blobs)
    return keyword_blocks.join([keyword_blocks.decode(b) for b in blobs]) if blobs else np.zeros(0, dtype=POSTING)


def _store_block(term: str, key: int | None, chunks: list[bytes], firsts: list[int], writes: _Writes) -> None:
    """The blocks `chunks` (encoded postings sorted by row id, of first row ids `firsts`)
    in place of the block keyed `key` (None: a term's first block): kept under its key
    (its first posting may lie below it only for the term's first block, which then
    takes that posting's row id), the rest inserted; the block deleted if none."""
    if chunks and key is not None and firsts[0] >= key:
        firsts[0] = key  # the block keeps covering what it covered
    if key is not None and (not chunks or firsts[0] != key):
        writes.deletes.append((term, key))
    for i, (first, chunk) in enumerate(zip(firsts, chunks)):
        if i == 0 and first == key:
            writes.updates.append((chunk, term, first))
        else:
            writes.inserts.append((term, first, chunk))


def _add_stats(c: sqlite3.Connection, docs: int, tokens: int) -> None:
    c.executemany("UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = ?",
                  [(docs, "kw_docs"), (tokens, "kw_tokens")])


def create(c: sqlite3.Connection) -> None:
    """The keyword tables and statistics of an empty index, within the caller's transaction."""
    for statement in TABLES:
        c.execute(statement)
    c.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(STATS.items()))


def rebuild(c: sqlite3.Connection, progress: Callable[[int], None] | None = None,
            cache: KeywordCache | None = None) -> None:
    """Within the caller's transaction: the index built again from every document's text
    (`cache`, the store's, forgets what it held)."""
    if cache is not None:
        cache.clear()
    c.execute("DROP TABLE IF EXISTS kw_blocks")  # an older format's table may be laid out otherwise
    for statement in TABLES:
        c.execute(statement)
    c.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(STATS.items()))
    last = -1
    while True:
        rows = c.execute("SELECT rowid, text FROM docs WHERE rowid > ? ORDER BY rowid LIMIT ?",
                         (last, REBUILD_BATCH)).fetchall()
        if not rows:
            return
        update(c, {}, dict(rows))
        last = rows[-1][0]
        if progress:
            progress(len(rows))


def top_k(conn: sqlite3.Connection, terms: list[str], k: int, allow: np.ndarray | None = None,
          cache: KeywordCache | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(row ids int64, BM25 scores float32) of the `k` best documents for the query
    `terms` (tokenized), best first, ties by row id; only scores above 0, and only row
    ids in `allow` if given (the statistics stay those of the whole collection).
    Exact, decoding only the blocks that can hold a top-k document (keyword_topk.py),
    held in `cache` (the store's) between queries if given."""
    return keyword_topk.top_k(conn, terms, k, allow, cache)


def stats(conn: sqlite3.Connection) -> dict:
    """{"docs", "tokens", "bytes"}: documents with terms, their total length, and the
    bytes of the keyword tables on disk (SQLite's dbstat, where it is compiled in)."""
    values = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('kw_docs', 'kw_tokens')").fetchall())
    try:
        size = conn.execute("SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = 'kw_blocks' OR "
                            "name LIKE 'sqlite_autoindex_kw_blocks%'").fetchone()[0]  # the index: older formats
    except sqlite3.Error:  # no dbstat in this SQLite build
        size = None
    return {"docs": int(values.get("kw_docs", 0)), "tokens": int(values.get("kw_tokens", 0)), "bytes": size}


def needs_rebuild(conn: sqlite3.Connection) -> bool:
    """True if the index was built with another tokenizer (its terms would not match)
    or in another block format (its blocks would not decode)."""
    return not format_is_current(conn) or _meta(conn, "kw_tokenizer") != DESCRIPTION


def format_is_current(conn: sqlite3.Connection) -> bool:
    """True if the index's blocks are in keyword_blocks.py's format (an older embkit's
    are not; they are rebuilt on open, where the store is writable)."""
    return _meta(conn, "kw_format") == FORMAT


def _meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]
