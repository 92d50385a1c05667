"""Exact BM25 top-k over a SQLite store's keyword blocks, decoding only the blocks that
can still hold a top-k document (MaxScore, with each block's own bound).

Every block's header gives its number of postings, its highest tf and lowest dl and its
first row id, so before any block is decoded the query knows each term's document
frequency (its exact idf), a bound on the score of each block's postings, and the row
ids each block covers. Then:

1. The terms that can add the most (the rare ones, usually) are decoded whole, until
   the bounds of the terms left sum below the k-th best partial score: a document
   holding none of the decoded terms cannot reach the top k.
2. The documents found so far whose partial score plus the bounds of the blocks of the
   other terms that may hold them reaches that score are looked up in those blocks
   (a few blocks of each frequent term instead of all of them).
3. Those documents, now scored over every term, are summed in query order from 0, as
   the exhaustive computation sums (the very same float64 sum, then float32).

Only what is strictly below the k-th score (by a margin wider than float32's rounding)
is left out, so ties at the k-th place still resolve by row id. All blocks and
statistics come from one statement, hence one snapshot.
"""

import functools
import sqlite3

import numpy as np

from . import bm25, keyword_blocks, keyword_decode
from .keyword_cache import KeywordCache, TermBlocks

EMPTY = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
FEW = 128  # blocks decoded at once without looking further: every block of a small query
PROMISING = 2  # times k: candidates looked up first, to raise the floor
SLACK = 1e-5  # relative margin: a float32 score rounds by ~6e-8, so a bound this far below is surely below


def top_k(conn: sqlite3.Connection, terms: list[str], k: int, allow: np.ndarray | None = None,
          cache: KeywordCache | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(row ids int64, BM25 scores float32) of the `k` best documents for the query
    `terms` (tokenized), best first, ties by row id; only scores above 0, and only row
    ids in `allow` if given (the statistics stay those of the whole collection). The
    blocks come from `cache` (the store's) where it can give them, else from SQLite."""
    if not terms or k <= 0:
        return EMPTY
    repeats = dict.fromkeys(terms, 0)
    for term in terms:
        repeats[term] += 1
    held = None if cache is None else cache.blocks(conn, list(repeats))
    if held is not None:
        return _cached(*held, repeats, k, allow)
    # One statement, so the postings and the statistics come from the same snapshot.
    rows = conn.execute(
        f"SELECT term, first, postings FROM kw_blocks WHERE term IN ({','.join('?' * len(repeats))}) "
        "UNION ALL SELECT key, 0, value FROM meta WHERE key IN ('kw_docs', 'kw_tokens')",
        list(repeats)).fetchall()
    # The two statistics (text) come last, as SQLite runs a UNION ALL in order; checked,
    # not assumed: were they elsewhere, every row is looked at (~0.3 ms at a million).
    stats = {r[0]: int(r[2]) for r in rows[-2:] if isinstance(r[2], str)}
    if len(stats) == 2:
        del rows[-2:]
    else:
        stats = {r[0]: int(r[2]) for r in rows if isinstance(r[2], str)}
        rows = [r for r in rows if not isinstance(r[2], str)]
    n_docs, n_tokens = stats.get("kw_docs", 0), stats.get("kw_tokens", 0)
    if n_docs == 0:
        return EMPTY
    by_term: dict[str, list[tuple[int, bytes]]] = {}
    for term, first, blob in rows:
        by_term.setdefault(term, []).append((first, blob))
    present = {t: times for t, times in repeats.items() if t in by_term}  # query order
    if not present:
        return EMPTY
    blocks = _Blocks([sorted(by_term[t]) for t in present], list(present.values()), n_docs, n_tokens / n_docs)
    allowed = None if allow is None else np.unique(np.asarray(allow, dtype=np.int64))
    return _search(blocks, _Decoded(blocks, allowed), k)


def _cached(entries: dict[str, TermBlocks], n_docs: int, n_tokens: int, repeats: dict[str, int], k: int,
            allow: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """top_k over blocks held in memory: a small query as below, one of more than FEW
    blocks document at a time, compiled (keyword_maxscore.py; numba is imported then)."""
    present = {t: times for t, times in repeats.items() if t in entries}  # query order
    if n_docs == 0 or not present:
        return EMPTY
    allowed = None if allow is None else np.unique(np.asarray(allow, dtype=np.int64))
    if sum(len(entries[t].firsts) for t in present) > FEW and (compiled := _compiled()) is not None:
        found, totals = compiled.top_k([entries[t] for t in present], list(present.values()), n_docs,
                                       n_tokens / n_docs, k, allowed, SLACK)
        return _best(found, totals, k)
    per_term = [list(zip(entries[t].firsts.tolist(), entries[t].blobs())) for t in present]
    blocks = _Blocks(per_term, list(present.values()), n_docs, n_tokens / n_docs)
    return _search(blocks, _Decoded(blocks, allowed), k)


@functools.cache
def _compiled():
    """keyword_maxscore, imported on first use (numba takes ~0.5 s to import: not for a
    small collection's queries); None without numba (then numpy's MaxScore, as exact), or
    when numba has nowhere to cache it (cache=True raises RuntimeError at import when
    neither the package's folder nor the user's cache folder can be written)."""
    try:
        from . import keyword_maxscore
    except (ImportError, RuntimeError):
        return None
    return keyword_maxscore


class _Blocks:
    """Every block of the query's terms, in one table: whose, where, and bounds (headers only)."""

    def __init__(self, per_term: list[list[tuple[int, bytes]]], times: list[int], n_docs: int, avgdl: float):
        self.blobs = [blob for blocks in per_term for _, blob in blocks]
        sizes = np.array([len(blocks) for blocks in per_term], dtype=np.int64)
        self.offsets = np.cumsum(sizes) - sizes  # each term's first block
        self.term = np.repeat(np.arange(len(per_term)), sizes)
        self.counts, max_tf, min_dl, starts = keyword_blocks.headers(self.blobs)
        self.starts, self.min_dl = starts.astype(np.int64), min_dl.astype(np.int64)
        df = np.add.reduceat(self.counts, self.offsets)
        self.weights = [bm25.idf(n_docs, int(d)) * t for d, t in zip(df.tolist(), times)]
        self.avgdl = avgdl
        self.sizes = sizes
        if len(self.blobs) > FEW:  # bounds only for a query that prunes
            self.bounds = bm25.term_scores(max_tf, min_dl, avgdl, np.asarray(self.weights)[self.term])
            self.tops = np.maximum.reduceat(self.bounds, self.offsets)  # the most each term can add

    def of(self, term: int) -> np.ndarray:
        """The indexes of `term`'s blocks."""
        return np.arange(self.offsets[term], self.offsets[term] + self.sizes[term])

    def covering(self, term: int, rowids: np.ndarray) -> np.ndarray:
        """The index of `term`'s block whose range holds each of `rowids` (sorted; -1:
        none does): the blocks' first row ids placed among the row ids, not each row id
        among the blocks (a few searches instead of one per row id)."""
        return np.repeat(self._indexes(term), self._spans(term, rowids))

    def bound_of(self, term: int, rowids: np.ndarray, done: np.ndarray) -> np.ndarray:
        """The bound of the undecoded block of `term` that may hold each of `rowids`
        (sorted; 0 where none may)."""
        first = self.offsets[term]
        which = slice(first, first + self.sizes[term])
        values = np.concatenate([[0.0], np.where(done[which], 0.0, self.bounds[which])])
        return np.repeat(values, self._spans(term, rowids))

    def _indexes(self, term: int) -> np.ndarray:
        indexes = np.arange(self.offsets[term] - 1, self.offsets[term] + self.sizes[term])
        indexes[0] = -1  # before the term's first block
        return indexes

    def _spans(self, term: int, rowids: np.ndarray) -> np.ndarray:
        """How many of `rowids` (sorted) lie before `term`'s first block, then in each block."""
        first = self.offsets[term]
        cuts = np.searchsorted(rowids, self.starts[first:first + self.sizes[term]])
        return np.diff(cuts, prepend=0, append=len(rowids))


class _Decoded:
    """The postings decoded so far, flat: row id, term, score (allowed row ids only)."""

    def __init__(self, blocks: _Blocks, allowed: np.ndarray | None):
        self.blocks, self.allowed = blocks, allowed
        self.done = np.zeros(len(blocks.blobs), dtype=bool)
        self.rowids, self.terms, self.scores = [], [], []
        self.which: list[np.ndarray] = []  # the blocks of each decode

    def decode(self, which: np.ndarray, fresh: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Decode the blocks `which` (indexes; -1 and those done already are skipped, unless
        `fresh`: distinct, ascending, none done); the row ids and scores of their (allowed) postings."""
        if not fresh:
            which = np.unique(which[which >= 0])
            which = which[~self.done[which]]
        if not len(which):
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        self.done[which] = True
        b = self.blocks
        counts = b.counts[which]
        rowids, tf, dl = keyword_decode.decode_columns([b.blobs[i] for i in which.tolist()],
                                                       (counts, b.min_dl[which], b.starts[which]))
        terms = np.repeat(b.term[which], counts)
        scores = bm25.term_scores(tf, dl, b.avgdl, np.repeat(np.asarray(b.weights)[b.term[which]], counts))
        if self.allowed is not None:
            keep = _isin_sorted(rowids, self.allowed)
            rowids, terms, scores = rowids[keep], terms[keep], scores[keep]
        self.rowids.append(rowids)
        self.terms.append(terms)
        self.scores.append(scores)
        self.which.append(which)
        return rowids, scores

    def sums(self, among: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(row ids, sorted; their scores over the decoded postings), of every decoded
        row id or of those `among` (sorted); added term by term in query order from 0, the
        exhaustive computation's order: its very sums once all of a row id's blocks are in."""
        if among is not None and len(among) * sum(map(len, self.which)) < sum(map(len, self.rowids)):
            # few (times the blocks, more than the term runs): each searched in each term's row ids
            picked = [self._among(i, among) for i in range(len(self.rowids))]
            rowids, terms, scores = (np.concatenate([chunk[at] for chunk, at in zip(x, picked)])
                                     for x in (self.rowids, self.terms, self.scores))
        else:
            rowids, terms, scores = (np.concatenate(x) for x in (self.rowids, self.terms, self.scores))
            if among is not None:
                keep = _isin_sorted(rowids, among)
                rowids, terms, scores = rowids[keep], terms[keep], scores[keep]
        # One decode call gives the blocks in query order, each term's row ids ascending.
        return _sum_by_rowid(rowids, scores, None if len(self.rowids) == 1 else terms, len(self.blocks.sizes))

    def _among(self, chunk: int, among: np.ndarray) -> np.ndarray:
        """The positions in decode `chunk`'s postings of those of row ids `among` (sorted),
        ascending: each of the few searched in each term's row ids, not each posting among them."""
        rowids, chosen = self.rowids[chunk], self.blocks.term[self.which[chunk]]  # ascending: term by term
        distinct = chosen[np.flatnonzero(np.diff(chosen, prepend=-1))]
        edges = np.searchsorted(self.terms[chunk], distinct).tolist() + [len(rowids)]
        found = []
        for lo, hi in zip(edges[:-1], edges[1:]):
            if hi > lo:
                at = np.minimum(np.searchsorted(rowids[lo:hi], among), hi - lo - 1) + lo
                found.append(at[rowids[at] == among])
        return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def _sum_by_rowid(rowids: np.ndarray, scores: np.ndarray, terms: np.ndarray | None,
                  n_terms: int) -> tuple[np.ndarray, np.ndarray]:
    """(distinct row ids, sorted; the sum of each one's scores, added in query order from
    0: by `terms` (below `n_terms`), or array order if None, each term's row ids ascending)."""
    if not len(rowids):
        return rowids, np.zeros(0)
    # A stable sort of a few sorted runs (numpy's timsort merges them) costs less than
    # np.unique's sort or one zeroed slot per row id up to the highest, even at 100k
    # documents; by row id, then term, so each one's postings come in query order.
    order = np.argsort(rowids if terms is None else rowids * n_terms + terms, kind="stable")
    rowids = rowids[order]
    new = np.empty(len(rowids), dtype=bool)
    new[0] = True
    np.not_equal(rowids[1:], rowids[:-1], out=new[1:])
    found = rowids[new]
    return found, np.bincount(np.cumsum(new) - 1, weights=scores[order], minlength=len(found))


def _search(blocks: _Blocks, decoded: _Decoded, k: int) -> tuple[np.ndarray, np.ndarray]:
    if len(blocks.blobs) <= FEW:  # a small query: every block at once
        decoded.decode(np.arange(len(blocks.blobs)), fresh=True)
        return _best(*decoded.sums(), k)
    order = np.argsort(-blocks.tops, kind="stable").tolist()  # the most a term can add, first
    # 1. Whole terms (the rare ones, of few blocks, first); a few promising documents
    # looked up in the other terms, so the floor (the k-th best score so far, which the
    # k-th final score reaches) starts high; then more whole terms until the bounds of
    # the terms left sum below the floor: a document none of the decoded blocks holds
    # cannot reach it (the floor only rises as more is decoded).
    first = max(1, int(np.searchsorted(np.cumsum(blocks.sizes[order]), FEW, side="right")))
    essential, order = order[:first], order[first:]
    decoded.decode(np.concatenate([blocks.of(t) for t in essential]))
    candidates, partial = decoded.sums()
    floor = _kth(partial, k)
    if order:
        chosen = _look_up(blocks, decoded, candidates, partial, order, PROMISING * k)
        floor = max(floor, _kth(decoded.sums(chosen)[1], k))  # their exact scores
    rest = np.cumsum(blocks.tops[order[::-1]])[::-1]  # the bounds of order[i:] summed
    needed = int(np.searchsorted(-rest, -floor, side="right"))  # the first i whose rest is below the floor
    if needed:
        decoded.decode(np.concatenate([blocks.of(t) for t in order[:needed]]))
        order = order[needed:]
    # The sums so far (one sorted run) with what was decoded since, not every posting
    # sorted again: sums for bounds, in any order (SLACK covers the rounding).
    if len(decoded.rowids) > 1:
        candidates, partial = _sum_by_rowid(np.concatenate([candidates, *decoded.rowids[1:]]),
                                            np.concatenate([partial, *decoded.scores[1:]]), None, 0)
        floor = max(floor, _kth(partial, k))
    # 2. The candidates that can still reach the floor, looked up in the blocks of the
    # other terms that may hold them, a term at a time (each raises the partial scores,
    # so fewer candidates are left for the next); then every one left is scored exactly.
    # A term's blocks are decoded only in its own round, so the bounds of the terms after
    # it, taken now, hold until theirs: rest[i] sums those of order[i:] for each candidate.
    rest = np.zeros((len(order) + 1, len(candidates)))
    for i in range(len(order) - 1, -1, -1):
        rest[i] = rest[i + 1] + blocks.bound_of(order[i], candidates, decoded.done)
    for i, term in enumerate(order):
        keep = partial + rest[i] >= floor
        candidates, partial, rest = candidates[keep], partial[keep], rest[:, keep]
        rowids, scores = decoded.decode(blocks.covering(term, candidates))
        at, found = _positions(candidates, rowids)  # one posting a document per term: no repeats
        partial[at[found]] += scores[found]
        floor = max(floor, _kth(partial, k))
    return _best(*decoded.sums(candidates), k)


def _look_up(blocks: _Blocks, decoded: _Decoded, candidates: np.ndarray, partial: np.ndarray,
             terms: list[int], few: int) -> np.ndarray:
    """The `few` candidates of highest bound (sorted), after decoding the blocks of
    `terms` that may hold them: scored exactly."""
    bound = _bounds(blocks, decoded, candidates, partial, terms)
    if len(bound) > few:  # any `few` of the highest will do: they only raise the floor
        candidates = candidates[np.argpartition(bound, len(bound) - few)[len(bound) - few:]]
    chosen = np.sort(candidates)
    decoded.decode(np.concatenate([blocks.covering(t, chosen) for t in terms]))
    return chosen


def _positions(sorted_ids: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position in `sorted_ids` of each of `values`, whether it is there)."""
    if not len(sorted_ids):
        return np.zeros(len(values), dtype=np.int64), np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_ids, values), len(sorted_ids) - 1)
    return at, sorted_ids[at] == values


def _best(found: np.ndarray, totals: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best of row ids `found` by their exact `totals` (float64), as float32,
    ties by row id."""
    scores = totals.astype(np.float32)
    if len(scores) > k:  # every document tied with the k-th stays, so ties resolve by row id
        keep = scores >= np.partition(scores, len(scores) - k)[len(scores) - k]
        found, scores = found[keep], scores[keep]
    ranked = np.lexsort((found, -scores))[:k]
    return found[ranked].astype(np.int64), scores[ranked]


def _bounds(blocks: _Blocks, decoded: _Decoded, candidates: np.ndarray, partial: np.ndarray,
            terms: list[int]) -> np.ndarray:
    """The most each candidate (sorted) can score: its partial score plus the bounds of
    the undecoded blocks of `terms` that may hold it."""
    bound = partial.copy()
    for t in terms:
        bound += blocks.bound_of(t, candidates, decoded.done)
    return bound


def _kth(partial: np.ndarray, k: int) -> float:
    """A score the k-th best document surely reaches: the k-th best partial score,
    lowered by SLACK (0 if fewer than k documents have one: nothing can be left out)."""
    if len(partial) < k:
        return 0.0
    return float(np.partition(partial, len(partial) - k)[len(partial) - k]) * (1 - SLACK)


def _isin_sorted(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Whether each of `values` is in `sorted_set` (sorted, unique)."""
    if not len(sorted_set):
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return sorted_set[at] == values
