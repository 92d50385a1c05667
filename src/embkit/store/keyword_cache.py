"""The keyword blocks of recently queried terms, kept in memory until the database changes
under them: a query at a million documents reads ~1,000 blocks of its terms, and
fetching them from SQLite costs more than scoring them.

An entry holds one term's blocks as SQLite has them (bytes, first row ids, headers).
Once the compiled kernel is loaded (a collection with queries of many blocks), a term is
read as one row that SQLite joins (its blocks' bytes and keys), its headers then read
by compiled code: a term of ~60 blocks at a million documents ~85 -> ~63 us, no Python
object per block.
It is valid for one state of the database, as a stamp tells it (filter_cache.stamp for
one connection; a SQLite store's, sqlite_connections.stamp, for its threads' connections):
a commit of another connection or process, and then every entry is dropped. A write of
this store's own marks the terms it touched with the lowest block key it
wrote (keyword_sqlite.update calls `touched` after its statements, before the commit),
and the next query that needs such a term reads again only its blocks from that key on
(for new documents: the term's last block), so a write does not cost the next query a
whole term. Rows this store changed with no write marked since (the tables written
by hand, say) empty the cache too. Nothing read inside a transaction, or while a write
marked terms, is kept: the caller then reads the blocks from SQLite as without a cache.
"""

import sqlite3
import sys
import threading
from collections import OrderedDict
from typing import Callable

import numpy as np

from . import filter_cache, keyword_blocks

MAX_BYTES = 64 << 20  # blocks held in all (the postings of ~70% of a million short documents' query terms)
MAX_SEGMENTS = 8  # pieces an entry's bytes may be in before they are joined into one
ROWS = "SELECT first, postings FROM kw_blocks WHERE term = ? AND first >= ? ORDER BY first"
JOINED = ("SELECT count(*), CAST(group_concat(first) AS BLOB), CAST(group_concat(postings, x'') AS BLOB) "
          "FROM kw_blocks WHERE term = ? AND first >= ?")  # in key order, as SQLite walks the primary key (checked)
ENTRY_BYTES = 800  # an entry's own cost (the object, its arrays, its key): a term with no blocks
# counted 0 bytes, so queries of absent words grew the cache without bound


class TermBlocks:
    """One term's blocks, sorted by key: their bytes (in a few pieces, one after another),
    where each starts in them, their keys (first row ids) and postings counts. `table()`
    holds each block's offset, key, highest tf and lowest dl as rows (int64, 4 x blocks;
    firsts, max_tf and min_dl become views of it): what keyword_maxscore reads, joined for
    a query in one concatenation, not four."""

    __slots__ = ("pieces", "starts", "firsts", "counts", "max_tf", "min_dl", "nbytes", "_flat", "_table")

    def __init__(self, pieces: list[bytes], starts: np.ndarray, firsts: np.ndarray, counts: np.ndarray,
                 max_tf: np.ndarray, min_dl: np.ndarray):
        if len(pieces) > MAX_SEGMENTS:
            pieces = [b"".join(pieces)]
        self.pieces, self.starts, self.firsts = pieces, starts, firsts
        self.counts, self.max_tf, self.min_dl = counts, max_tf, min_dl
        self.nbytes = int(starts[-1]) + 48 * len(firsts) + ENTRY_BYTES  # the table, starts and counts
        self._flat: tuple | None = None
        self._table: np.ndarray | None = None  # made on first use: a small collection's queries never need it

    def table(self) -> np.ndarray:
        """Each block's offset, key, highest tf and lowest dl as rows (int64, 4 x blocks),
        made once per entry; firsts, max_tf and min_dl are then views of it (held once)."""
        table = self._table
        if table is None:
            table = np.empty((4, len(self.firsts)), dtype=np.int64)
            table[0], table[1], table[2], table[3] = self.starts[:-1], self.firsts, self.max_tf, self.min_dl
            self.firsts, self.max_tf, self.min_dl = table[1], table[2], table[3]  # equal values: readers see either
            self._table = table
        return table

    @classmethod
    def read(cls, rows: list[tuple[int, bytes]]) -> "TermBlocks":
        """Of (key, block) rows sorted by key. The headers are read out of the joined
        bytes (one gather), not sliced block by block: a term at a million documents
        has hundreds of blocks, and each slice was a Python object."""
        if not rows:
            empty = np.zeros(0, dtype=np.int64)
            return cls([b""], np.zeros(1, dtype=np.int64), empty, empty, empty, empty)
        firsts, blobs = zip(*rows)
        data = b"".join(blobs)
        starts = np.zeros(len(blobs) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs)), out=starts[1:])
        buf = np.frombuffer(data, dtype=np.uint8)
        counts, max_tf, min_dl, _ = keyword_blocks.headers_at(buf, starts[:-1])
        entry = cls([data], starts, np.array(firsts, dtype=np.int64), counts, max_tf.astype(np.int64),
                    min_dl.astype(np.int64))
        entry._flat = (buf, buf.ctypes.data, int(counts.sum()))  # what `flat` would make of it
        return entry

    @classmethod
    def fetch(cls, conn: sqlite3.Connection, term: str, key: int) -> "TermBlocks":
        """The blocks of `term` from key `key` on, read from SQLite in one statement: once
        the compiled kernel is loaded, as one row (SQLite joins the blocks and their keys:
        no Python objects per block, ~85 -> ~63 us a term of ~60 blocks at 1M), else a row
        per block. SQLite does not promise group_concat's order, so the joined row is kept
        only if its keys rise and its blocks end where its bytes do; else rows are read.
        A term whose joined row passes SQLite's length limit (SQLITE_LIMIT_LENGTH, 1e9
        bytes by default) is read row by row too: each block is far under it."""
        kernel = sys.modules.get(f"{__package__}.keyword_maxscore")
        block_heads = getattr(kernel, "block_heads", None)  # None while another thread still imports it
        joined = None
        if block_heads is not None:
            try:
                joined = conn.execute(JOINED, (term, key)).fetchone()
            except sqlite3.DataError:  # "string or blob too big": the rows below are each small
                joined = None
        if joined is not None:
            count, keys, data = joined
            if not count:
                return cls.read([])
            buf = np.frombuffer(data, dtype=np.uint8)
            starts, counts, table, address, well = block_heads(buf, count, np.frombuffer(keys, dtype=np.uint8))
            if well:
                entry = cls([data], starts, table[1], counts, table[2], table[3])
                entry._flat, entry._table = (buf, address, int(counts.sum())), table
                return entry
        return cls.read(conn.execute(ROWS, (term, key)).fetchall())

    def flat(self) -> tuple[np.ndarray, int, int]:
        """(all the blocks' bytes as one uint8 array, its address, the term's document
        frequency), made once per entry (an entry never changes; `then` and `before` make
        new ones): what keyword_maxscore reads, without joining the pieces every query."""
        flat = self._flat
        if flat is None:
            if len(self.pieces) > 1:
                self.pieces = [b"".join(self.pieces)]  # one copy held, as MAX_BYTES counts
            data = np.frombuffer(self.pieces[0], dtype=np.uint8)
            flat = self._flat = (data, data.ctypes.data if len(data) else 0, int(self.counts.sum()))
        return flat

    def before(self, key: int) -> "TermBlocks":
        """The blocks whose key is below `key`."""
        n = int(np.searchsorted(self.firsts, key))
        cut, pieces, at = int(self.starts[n]), [], 0
        for piece in self.pieces:
            if at + len(piece) <= cut:
                pieces.append(piece)
            elif at < cut:
                pieces.append(piece[:cut - at])
            at += len(piece)
        return TermBlocks(pieces, self.starts[:n + 1], self.firsts[:n], self.counts[:n], self.max_tf[:n],
                          self.min_dl[:n])

    def then(self, more: "TermBlocks") -> "TermBlocks":
        """These blocks followed by `more`'s (all of a higher key)."""
        if not len(more.firsts):
            return self
        starts = np.concatenate([self.starts[:-1], more.starts + self.starts[-1]])
        pairs = ((self.firsts, more.firsts), (self.counts, more.counts), (self.max_tf, more.max_tf),
                 (self.min_dl, more.min_dl))
        return TermBlocks(self.pieces + more.pieces, starts, *(np.concatenate(pair) for pair in pairs))

    def blobs(self) -> list[bytes]:
        """Each block's bytes."""
        data = self.pieces[0] if len(self.pieces) == 1 else b"".join(self.pieces)
        bounds = self.starts.tolist()
        return [data[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


class KeywordCache:
    """TermBlocks by term, least recently used dropped past MAX_BYTES."""

    def __init__(self, max_bytes: int = MAX_BYTES, stamp: Callable = filter_cache.stamp):
        self.max_bytes = max_bytes
        # (own changes, others' commits) of the database as a connection sees it, None inside a write:
        # one connection's own (filter_cache.stamp), or a SQLite store's (sqlite_connections.stamp)
        self._stamp = stamp
        self._entries: OrderedDict[str, TermBlocks] = OrderedDict()
        self._stale: dict[str, int] = {}  # term -> the lowest block key written since its entry was read
        self._bytes = 0
        self._version: int | None = None  # the count of others' commits the entries were read at
        self._writes = 0  # counts `touched` and `clear` calls: a read that saw one keeps nothing
        self._seen = (0, -1)  # (_writes, the stamp's own changes) when entries were last kept
        self._stats: tuple[int, int] | None = None  # (documents, tokens) of the state the entries are of
        self._lock = threading.Lock()

    def touched(self, keys: dict[str, int]) -> None:
        """A write of this connection changed the blocks of each term from its key on."""
        with self._lock:
            self._writes += 1
            self._stats = None
            for term, key in keys.items():
                if term in self._entries:
                    self._stale[term] = min(key, self._stale.get(term, key))

    def clear(self) -> None:
        """Forget everything (the index was rebuilt)."""
        with self._lock:
            self._writes += 1
            self._entries.clear()
            self._stale.clear()
            self._bytes, self._stats = 0, None

    def blocks(self, conn: sqlite3.Connection, terms: list[str]) -> tuple[dict[str, TermBlocks], int, int] | None:
        """({term: its blocks} for those of `terms` that have any, documents, tokens), all
        of one state of the database; None inside a transaction or if a write came
        between (then read SQLite directly)."""
        # the count first, then the stamp (None while a write is open): a write whose statements
        # ran before the count is still open here, or else it ended before any read (checked the
        # other way round, its blocks could be read uncommitted and kept after a rollback that
        # came before it marked its terms, with the count already past its rows)
        writes, state = self._writes, self._stamp(conn)  # the stamp is compared again after the reads
        if state is None:
            return None
        changes, version = state
        with self._lock:
            # rows changed by this store with no write marked since: not keyword_sqlite.update's (a repair by
            # hand, say, or a write that touches no text), so whatever it changed is forgotten
            unmarked = writes == self._seen[0] and changes != self._seen[1]
            if version != self._version or unmarked:
                self._entries.clear()
                self._stale.clear()
                self._bytes, self._version, self._stats = 0, version, None
            held = {t: (self._entries.get(t), self._stale.get(t)) for t in terms}
            if self._stats is not None and all(e is not None and stale is None for e, stale in held.values()):
                for term in held:  # all held as of the state just checked: nothing to read
                    self._entries.move_to_end(term)
                return {t: e for t, (e, _) in held.items() if len(e.firsts)}, *self._stats
        out, fresh = {}, {}
        for term, (entry, stale) in held.items():
            if entry is not None and stale is None:
                if len(entry.firsts):
                    out[term] = entry
                continue
            key = -1 if entry is None else stale
            read = TermBlocks.fetch(conn, term, key)
            entry = read if entry is None else entry.before(key).then(read)
            fresh[term] = entry
            if len(entry.firsts):
                out[term] = entry
        stats = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('kw_docs', 'kw_tokens')").fetchall())
        if self._stamp(conn) != state:  # a write began, or anyone committed, while this read
            return None
        with self._lock:
            if self._writes != writes or self._version != version:
                return None
            for term in held:
                if term in fresh:
                    self._bytes -= self._entries[term].nbytes if term in self._entries else 0
                    self._entries[term] = fresh[term]
                    self._bytes += fresh[term].nbytes
                    self._stale.pop(term, None)
                if term in self._entries:
                    self._entries.move_to_end(term)
            self._seen = (writes, changes)
            self._stats = int(stats.get("kw_docs", 0)), int(stats.get("kw_tokens", 0))
            while self._bytes > self.max_bytes and self._entries:
                term, entry = self._entries.popitem(last=False)
                self._stale.pop(term, None)
                self._bytes -= entry.nbytes
        return out, int(stats.get("kw_docs", 0)), int(stats.get("kw_tokens", 0))
