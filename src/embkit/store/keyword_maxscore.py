"""Exact BM25 top-k, compiled (numba): MaxScore with each block's own
bound, over keyword blocks already in memory (keyword_cache.py).

The terms are ordered by the most they can add. Those whose bounds together stay below
the k-th best score so far (the floor) are "non-essential": a document holding none of
the others cannot reach the top k, so only the postings of the essential terms are
walked, a window of WINDOW row ids at a time: each walked term's postings in the window
are added into per-document sums (term at a time: no per-document branch over the
terms), then the documents with any are taken in row id order (1M keyword kernel 0.77x
the document-at-a-time merge, captured queries). Each such document is then looked up
in the non-essential terms, the one that can add the most first, and dropped as soon
as its partial score plus what the terms left (or the one block that may hold it) can
add stays below the floor: a non-essential term's block is decoded only when a document
that may still reach the top k falls in it, and then only its row ids (the tf and dl of
the posting found are read alone: 1M keyword kernel ~0.97x), gap by gap as far as the
documents looked up in it reach (~3/4 of a block on average; 1M keyword kernel ~0.93x).
What a term can add is taken at the document's own length (every posting carries it):
idf · tf / (tf + K1 · (1 − B + B · dl / avgdl)) at the term's highest tf, far below its
bound at its blocks' shortest length for all but the shortest documents (1M keyword
kernel ~0.87x). As the floor rises, more terms become non-essential. numpy's whole-array
operations (keyword_topk.py) cannot do this: each document's next step depends on the last.

Measured and left out (1M documents, captured queries): skipping whole blocks of the
walked terms by their bounds skips none, even with each block's exact highest score
(a block of 256 postings nearly always holds one near its term's best, so the bounds of
a top document's blocks sum past the floor for every walked document); a first floor
from the rarest terms' partial sums (at most 0.93x, before its own cost). Kept instead:
the floor starts at the k-th best score of the term that can add the most, when it has
at most FIRST_FLOOR_BLOCKS blocks (a document scores at least its score in one term;
1M keyword kernel ~0.97x, no filter: the k-th best of the allowed may be lower). Windows first
measured 1.6x slower: the output arrays were regrown inside the per-document loop, so
numba counted their references at every step (half the time in NRT_incref/decref, seen
with perf); they now grow once per window, to room for all its documents.

A document that is not dropped is scored over every term and its sum taken in query
order from 0 (the exhaustive computation's float64 sum, bit for bit); every one within
SLACK of the floor is returned, so ties at the k-th place still resolve by row id.
Decodes keyword_blocks.FORMAT "columnar-1" (keyword_decode.py describes it).
"""

import numpy as np
from numba import carray, njit, types
from numba.cpython.unsafe.numbers import trailing_zeros
from numba.extending import intrinsic

from . import bm25

K1, B = bm25.K1, bm25.B
MAX_POSTINGS = 256
# error_model="numpy" on every compiled function: no division-by-zero checks (~4% of the
# search, measured); every divisor here is positive, so the results are the same.


@intrinsic
def _pointer(typingctx, address):
    """An address (int64) as a uint8 pointer, for `carray`: the query's terms' bytes are
    read where the cache holds them, not copied into one array first (~660 KB, 0.04 ms
    per query at a million documents); `top_k` keeps them alive for the call."""
    if not isinstance(address, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(types.CPointer(types.uint8)))

    return types.CPointer(types.uint8)(address), codegen


@njit(cache=True, nogil=True, error_model="numpy")
def _u16(buf, at):
    return np.int64(buf[at]) | np.int64(buf[at + 1]) << 8


@njit(cache=True, nogil=True, error_model="numpy")
def _decode_rowids(buf, at, rowids):
    """The row ids of the block at `at` (a walked block; a looked-up one is read gap by
    gap, `_gap`, and its tf and dl for the one posting found, `_posting`); its number of postings."""
    n = np.int64(buf[at]) + 1
    flags = np.int64(buf[at + 1])
    rowid = _u16(buf, at + 6) | _u16(buf, at + 8) << 16
    width = np.int64(1) << (flags & 3)
    p = at + 10
    rowids[0] = rowid
    if width == 1:
        for j in range(1, n):
            rowid += np.int64(buf[p + j - 1])
            rowids[j] = rowid
    elif width == 2:
        for j in range(1, n):
            rowid += _u16(buf, p + 2 * (j - 1))
            rowids[j] = rowid
    else:
        for j in range(1, n):
            q = p + 4 * (j - 1)
            rowid += _u16(buf, q) | _u16(buf, q + 2) << 16
            rowids[j] = rowid
    return n


@njit(cache=True, nogil=True, error_model="numpy")
def _gap(buf, gaps, width, j):
    """Gap j (from posting j to j + 1) of a block whose gaps start at `gaps`, each of
    1 << `width` bytes."""
    if width == 0:
        return np.int64(buf[gaps + j])
    if width == 1:
        return _u16(buf, gaps + 2 * j)
    return _u16(buf, gaps + 4 * j) | _u16(buf, gaps + 4 * j + 2) << 16


@njit(cache=True, nogil=True, error_model="numpy")
def _decode(buf, at, rowids, tfs, dls, scores, weight, avgdl, scored):
    """The block at `at` into rowids, tfs, dls and, if `scored`, scores (BM25 of one
    term; a block looked up in is scored one posting at a time); its number of postings."""
    n = _decode_rowids(buf, at, rowids)
    flags = np.int64(buf[at + 1])
    min_dl = _u16(buf, at + 4)
    p = at + 10 + (n - 1) * (np.int64(1) << (flags & 3))  # past the row id gaps
    mode = flags >> 2 & 3
    if mode == 2:
        for j in range(n):
            tfs[j] = buf[p + j]
        p += n
    elif mode == 3:
        for j in range(n):
            tfs[j] = _u16(buf, p + 2 * j)
        p += 2 * n
    else:
        for j in range(n):
            tfs[j] = 1.0
        if mode == 1:
            e = np.int64(buf[p])
            for x in range(e):
                tfs[buf[p + 1 + x]] = buf[p + 1 + e + x]
            p += 1 + 2 * e
    if flags & 16:
        for j in range(n):
            dls[j] = _u16(buf, p + 2 * j) + min_dl
    else:
        for j in range(n):
            dls[j] = np.int64(buf[p + j]) + min_dl
    if scored:
        for j in range(n):
            scores[j] = weight * tfs[j] / (tfs[j] + K1 * (1.0 - B + B * dls[j] / avgdl))
    return n


@njit(cache=True, nogil=True, error_model="numpy")
def _posting(buf, at, j):
    """(tf, dl) of posting j of the block at `at`, read from its columns alone."""
    n = np.int64(buf[at]) + 1
    flags = np.int64(buf[at + 1])
    min_dl = _u16(buf, at + 4)
    p = at + 10 + (n - 1) * (np.int64(1) << (flags & 3))
    mode = flags >> 2 & 3
    tf = np.int64(1)
    if mode == 2:
        tf = np.int64(buf[p + j])
        p += n
    elif mode == 3:
        tf = _u16(buf, p + 2 * j)
        p += 2 * n
    elif mode == 1:
        e = np.int64(buf[p])
        for x in range(e):
            if np.int64(buf[p + 1 + x]) == j:
                tf = np.int64(buf[p + 1 + e + x])
        p += 1 + 2 * e
    if flags & 16:
        dl = _u16(buf, p + 2 * j) + min_dl
    else:
        dl = np.int64(buf[p + j]) + min_dl
    return tf, dl


@njit(cache=True, nogil=True, error_model="numpy")
def block_heads(buf, n_blocks, keys):
    """(where each block starts, and where the last ends; postings of each; a table of
    rows: offset, key, highest tf, lowest dl; the address of `buf`; True if all is well)
    of `n_blocks` blocks joined in `buf` whose keys are `keys` (ASCII decimals joined by
    commas, as SQLite's group_concat gives them): what keyword_cache keeps of a term read
    from SQLite, in one pass (each block's size follows from its header), not a dozen
    numpy operations a term. Not well: the blocks do not end where `buf` does, or the
    keys are not `n_blocks` rising numbers (then the caller reads the term otherwise)."""
    starts = np.empty(n_blocks + 1, dtype=np.int64)
    counts = np.empty(n_blocks, dtype=np.int64)
    table = np.empty((4, n_blocks), dtype=np.int64)
    at = 0
    for b in range(n_blocks):
        starts[b] = at
        table[0, b] = at
        if at + 10 > len(buf):
            return starts, counts, table, 0, False
        n = np.int64(buf[at]) + 1
        flags = np.int64(buf[at + 1])
        counts[b] = n
        table[2, b] = _u16(buf, at + 2)
        table[3, b] = _u16(buf, at + 4)
        size = 10 + (n - 1) * (np.int64(1) << (flags & 3))  # header, row id gaps
        mode = flags >> 2 & 3
        if mode == 1:  # tf: ones with exceptions (a count, then positions and values)
            if at + size >= len(buf):
                return starts, counts, table, 0, False
            size += 1 + 2 * np.int64(buf[at + size])
        elif mode >= 2:  # tf: a u1 or u2 column
            size += n * (mode - 1)
        size += n * (2 if flags & 16 else 1)  # dl - min dl: u1 or u2
        at += size
    starts[n_blocks] = at
    b, value, digits, last = 0, np.int64(0), 0, np.int64(-1)
    for i in range(len(keys) + 1):
        c = np.int64(keys[i]) if i < len(keys) else np.int64(44)  # a comma ends the last key
        if 48 <= c <= 57:
            value = value * 10 + c - 48
            digits += 1
        elif c == 44 and digits > 0 and b < n_blocks and value > last:
            table[1, b] = value
            b, last, value, digits = b + 1, value, np.int64(0), 0
        else:
            return starts, counts, table, 0, False
    return starts, counts, table, buf.ctypes.data, at == len(buf) and b == n_blocks


@njit(cache=True, nogil=True, error_model="numpy")
def _score(tf, dl, weight, avgdl):
    """bm25.term_scores for one posting: the same float64 operations in the same order."""
    t = np.float64(tf)
    return weight * t / (t + K1 * (1.0 - B + B * np.float64(dl) / avgdl))


@njit(cache=True, nogil=True, error_model="numpy")
def _push(heap, size, value):
    """A min-heap of the k best scores: `value` in (k = len(heap)); the new size."""
    k = len(heap)
    if size < k:
        i = size
        heap[i] = value
        while i > 0:
            parent = (i - 1) // 2
            if heap[parent] <= heap[i]:
                break
            heap[parent], heap[i] = heap[i], heap[parent]
            i = parent
        return size + 1
    if value <= heap[0]:
        return size
    heap[0] = value
    i = 0
    while True:
        small, left, right = i, 2 * i + 1, 2 * i + 2
        if left < k and heap[left] < heap[small]:
            small = left
        if right < k and heap[right] < heap[small]:
            small = right
        if small == i:
            return size
        heap[small], heap[i] = heap[i], heap[small]
        i = small


END = np.iinfo(np.int64).max
LENGTHS = 1024  # document lengths with their own bounds; a longer one takes this one's (looser: still above)
FIRST_FLOOR_BLOCKS = 8  # blocks of the term whose k-th best score starts the floor (decoded once more)
WINDOW = 2048  # row ids whose walked postings are added up together (sums and lengths stay in L1)


# One long function, not a few short ones: numba counts the references of every array
# passed to a call, which per document made the search 4x slower (measured).
@njit(cache=True, nogil=True, error_model="numpy")
def search(terms, blocks, weights, avgdl, k, allow, use_allow, slack):
    """(row ids, float64 exact sums) of every document that may be among the `k` best
    (all of the k best, and any tied with them), unordered. `terms` (int64, a row per
    term in query order): where its bytes are, how many, and how many blocks, which are
    the next columns of `blocks` (int64, rows: byte offset in their term's bytes, first
    row id (a block holds row ids up to the next one's first), highest tf, lowest dl)."""
    n_terms = len(weights)
    offsets, firsts, max_tf, min_dl = blocks[0], blocks[1], blocks[2], blocks[3]
    term_blocks = np.zeros(n_terms + 1, dtype=np.int64)
    lowest, highest = terms[0, 0], 0
    for t in range(n_terms):
        term_blocks[t + 1] = term_blocks[t] + terms[t, 2]
        lowest = min(lowest, terms[t, 0])
        highest = max(highest, terms[t, 0] + terms[t, 1])
    buf = carray(_pointer(lowest), (highest - lowest,))  # every term's bytes, at their places in memory
    starts = np.empty(len(firsts), dtype=np.int64)  # each block's offset in buf
    bounds = np.empty(len(firsts))  # the most a posting of each block can add
    for t in range(n_terms):
        for b in range(term_blocks[t], term_blocks[t + 1]):
            starts[b] = terms[t, 0] - lowest + offsets[b]
            bounds[b] = _score(max_tf[b], min_dl[b], weights[t], avgdl)
    top = np.zeros(n_terms)  # the most each term can add
    most_tf = np.zeros(n_terms)
    for t in range(n_terms):
        for b in range(term_blocks[t], term_blocks[t + 1]):
            top[t] = max(top[t], bounds[b])
            most_tf[t] = max(most_tf[t], max_tf[b])
    order = np.argsort(top, kind="mergesort")  # least first: the non-essential ones are a prefix
    prefix = np.cumsum(top[order])  # prefix[i]: what order[:i + 1] can add together
    # at_dl[dl, i]: what order[:i + 1] can add to a document of length dl (-1: not computed yet)
    at_dl = np.full((LENGTHS, n_terms), -1.0)
    rowids = np.empty((n_terms, MAX_POSTINGS), dtype=np.int64)
    scores = np.empty((n_terms, MAX_POSTINGS))
    tfs = np.empty((n_terms, MAX_POSTINGS))
    dls = np.empty((n_terms, MAX_POSTINGS))
    block = term_blocks[:-1].copy()  # each term's current block, decoded into rowids/scores
    decoded = block.copy()
    size = np.zeros(n_terms, dtype=np.int64)
    pos = np.zeros(n_terms, dtype=np.int64)
    for t in range(n_terms):
        size[t] = _decode(buf, starts[block[t]], rowids[t], tfs[t], dls[t], scores[t], weights[t], avgdl, True)
    heap = np.empty(max(k, 1))
    filled = 0
    floor = 0.0
    essential = 0  # order[essential:] are walked; order[:essential] looked up
    rare = order[n_terms - 1]  # a first floor: the k-th best score of the term that can add most, if short
    if not use_allow and term_blocks[rare + 1] - term_blocks[rare] <= FIRST_FLOOR_BLOCKS:
        # last block first, so the term's first block (its current one) is the one left decoded;
        # the heap's k best do not depend on the order
        for b in range(term_blocks[rare + 1] - 1, term_blocks[rare] - 1, -1):
            n = _decode(buf, starts[b], rowids[rare], tfs[rare], dls[rare], scores[rare], weights[rare], avgdl, True)
            for j in range(n):
                filled = _push(heap, filled, scores[rare, j])
            size[rare] = n
        if filled == k:
            floor = heap[0] * (1.0 - slack)
            while essential < n_terms and prefix[essential] < floor:
                essential += 1
        filled = 0
    term_score = np.zeros(n_terms)
    out_ids = np.empty(4 * WINDOW, dtype=np.int64)
    out_scores = np.empty(4 * WINDOW)
    found = 0
    at_allow = 0
    # one window of row ids: the walked terms' postings summed per document, the length of each
    # and which documents have any (bits); each walked term's postings in it, for the exact sum
    sums = np.zeros(WINDOW)
    lengths = np.zeros(WINDOW)
    bits = np.zeros(WINDOW // 64, dtype=np.uint64)
    in_rows = np.empty((n_terms, WINDOW), dtype=np.int64)
    in_scores = np.empty((n_terms, WINDOW))
    in_count = np.zeros(n_terms, dtype=np.int64)
    at_term = np.zeros(n_terms, dtype=np.int64)  # each walked term's place in in_rows
    done = np.zeros(n_terms, dtype=np.bool_)  # walked to its end
    lazy = np.zeros(n_terms, dtype=np.bool_)  # the current block is a looked-up one: read gap by gap, not decoded
    at_row = np.zeros(n_terms, dtype=np.int64)  # a looked-up block's row id at pos (read so far)
    while True:
        walked = essential  # order[walked:] are walked in this window, even if the floor passes one
        base = END
        for i in range(walked, n_terms):
            t = order[i]
            if not done[t]:
                base = min(base, rowids[t, pos[t]])
        if base == END:
            break
        end = base + WINDOW
        if found + WINDOW > len(out_ids):  # room for every document of the window, grown here, not per document
            out_ids = np.concatenate((out_ids[:found], np.empty(found + WINDOW, dtype=np.int64)))
            out_scores = np.concatenate((out_scores[:found], np.empty(found + WINDOW)))
        for i in range(walked, n_terms):  # term at a time: no per-document branch across terms
            t = order[i]
            n = 0
            p = pos[t]
            while not done[t]:
                row = rowids[t, p]
                if row >= end:
                    break
                j = row - base
                value = scores[t, p]
                sums[j] += value
                lengths[j] = dls[t, p]
                bits[j >> 6] |= np.uint64(1) << np.uint64(j & 63)
                in_rows[t, n] = row
                in_scores[t, n] = value
                n += 1
                p += 1
                if p == size[t]:
                    block[t] += 1
                    p = 0
                    if block[t] >= term_blocks[t + 1]:
                        done[t] = True
                    else:
                        size[t] = _decode(buf, starts[block[t]], rowids[t], tfs[t], dls[t], scores[t], weights[t],
                                          avgdl, True)
                        decoded[t] = block[t]
            pos[t] = p
            in_count[t] = n
            at_term[t] = 0
        reach = prefix[walked - 1] if walked > 0 else 0.0  # what the looked-up terms can add together
        for w in range(WINDOW // 64):
            word = bits[w]
            bits[w] = 0
            while word != 0:
                j = w * 64 + np.int64(trailing_zeros(word))
                word &= word - np.uint64(1)
                doc = base + j
                partial = sums[j]
                sums[j] = 0.0
                if partial + reach < floor:  # the common case: no looked-up term can lift doc to the floor
                    continue
                row = min(np.int64(lengths[j]), LENGTHS - 1)
                if walked > 0 and at_dl[row, 0] < 0.0:
                    length = K1 * (1.0 - B + B * np.float64(row) / avgdl)
                    total = 0.0
                    for i in range(n_terms):
                        most = most_tf[order[i]]
                        total += weights[order[i]] * most / (most + length)
                        at_dl[row, i] = min(total, prefix[i])
                if walked > 0 and partial + at_dl[row, walked - 1] < floor:  # not at this length either
                    continue
                if use_allow:
                    while at_allow < len(allow) and allow[at_allow] < doc:
                        at_allow += 1
                    if at_allow == len(allow) or allow[at_allow] != doc:
                        continue
                kept = True
                for i in range(walked - 1, -1, -1):  # the looked-up terms, the one that can add most first
                    below = at_dl[row, i - 1] if i > 0 else 0.0
                    if partial + at_dl[row, i] < floor:
                        kept = False
                        break
                    t = order[i]
                    last = term_blocks[t + 1] - 1
                    b = block[t]
                    while b < last and firsts[b + 1] <= doc:
                        b += 1
                    block[t] = b
                    if b > last or firsts[b] > doc:
                        continue  # the term's postings lie after doc, or ended before it
                    if partial + min(bounds[b], at_dl[row, i] - below) + below < floor:  # min of two bounds
                        kept = False
                        break
                    if decoded[t] != b:  # looked up in: its row ids read one gap at a time, only as far as needed
                        size[t] = np.int64(buf[starts[b]]) + 1
                        at_row[t] = _u16(buf, starts[b] + 6) | _u16(buf, starts[b] + 8) << 16
                        decoded[t] = b
                        pos[t] = 0
                        lazy[t] = True
                    p = pos[t]
                    if lazy[t]:
                        here = at_row[t]
                        if p < size[t] and here < doc:
                            gaps = starts[b] + 10
                            width = np.int64(buf[starts[b] + 1]) & 3
                            while here < doc:
                                p += 1
                                if p == size[t]:
                                    break
                                here += _gap(buf, gaps, width, p - 1)
                            at_row[t] = here
                    else:
                        while p < size[t] and rowids[t, p] < doc:
                            p += 1
                        here = rowids[t, p] if p < size[t] else END
                    pos[t] = p
                    if p < size[t] and here == doc:
                        if lazy[t]:  # only its row ids decoded: this posting's tf and dl read alone
                            tf, dl = _posting(buf, starts[b], p)
                            value = _score(tf, dl, weights[t], avgdl)
                        else:
                            value = _score(tfs[t, p], dls[t, p], weights[t], avgdl)
                        term_score[t] = value
                        partial += value
                if kept:
                    for i in range(walked, n_terms):  # the walked terms' own values, from the window
                        t = order[i]
                        a = at_term[t]
                        while a < in_count[t] and in_rows[t, a] < doc:
                            a += 1
                        at_term[t] = a
                        if a < in_count[t] and in_rows[t, a] == doc:
                            term_score[t] = in_scores[t, a]
                    exact = 0.0
                    for t in range(n_terms):  # in query order from 0, as the exhaustive sum
                        exact += term_score[t]
                    if exact >= floor:
                        out_ids[found] = doc
                        out_scores[found] = exact
                        found += 1
                        filled = _push(heap, filled, exact)
                        if filled == k:
                            floor = max(floor, heap[0] * (1.0 - slack))
                            while essential < n_terms and prefix[essential] < floor:
                                essential += 1  # a term that with those before it cannot reach the floor
                            found = _above(out_ids, out_scores, found, floor, 4 * k + 1024)
                for t in range(n_terms):
                    term_score[t] = 0.0
    return out_ids[:found], out_scores[:found]


@njit(cache=True, nogil=True, error_model="numpy")
def _above(ids, values, found, floor, most):
    """Past `most` kept, those the floor has passed dropped; how many are left."""
    if found <= most:
        return found
    keep = 0
    for j in range(found):
        if values[j] >= floor:
            ids[keep] = ids[j]
            values[keep] = values[j]
            keep += 1
    return keep

def top_k(entries: list, times: list[int], n_docs: int, avgdl: float, k: int,
          allow: np.ndarray | None, slack: float) -> tuple[np.ndarray, np.ndarray]:
    """(row ids, float64 exact sums) of the documents that may be among the `k` best for
    the query terms whose blocks are `entries` (keyword_cache.TermBlocks, query order),
    each repeated `times`; only row ids in `allow` (sorted, unique) if given."""
    flats = [e.flat() for e in entries]  # the entries hold these arrays: search reads them in place
    terms = np.array([(address, len(buf), len(e.firsts)) for (buf, address, _), e in zip(flats, entries)],
                     dtype=np.int64)
    weights = np.array([bm25.idf(n_docs, df) * t for (_, _, df), t in zip(flats, times)])
    blocks = np.concatenate([e.table() for e in entries], axis=1)
    allowed = np.zeros(0, dtype=np.int64) if allow is None else allow
    return search(terms, blocks, weights, avgdl, k, allowed, allow is not None, slack)
