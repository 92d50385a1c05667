"""The byte format of one block of a term's keyword postings (see keyword_sqlite.py).

A block holds 1 to MAX_POSTINGS postings sorted by row id; `decode` gives them as a
structured array of POSTING (row id, term frequency, document length), the only view
of a block the rest of the index uses. Each column takes the fewest whole bytes its
values in this block need, so numpy decodes a block in a few vector operations:

    header  10 bytes: count - 1 (u1), flags (u1), max tf (u2), min dl (u2), first row id (u4)
    gaps    count - 1 row id differences, u1, u2 or u4 (flags bits 0-1: 0, 1, 2 = 1, 2, 4 bytes)
    tf      flags bits 2-3: 0 every tf is 1, nothing stored; 1 the few above 1 as
            exceptions: their number (u1), positions (u1), values (u1);
            2 a column of u1; 3 a column of u2
    dl      dl - min dl, u1 (flags bit 4 clear) or u2 (set)

Short documents' postings take ~3 bytes instead of 8: most tf are 1 and most dl < 256.
Values are exact (tf and dl as stored before), so scores do not move. The header's
max tf and min dl bound a block's BM25 scores without decoding it (`bounds`).
"""

import struct

import numpy as np

POSTING = np.dtype([("rowid", "<u4"), ("tf", "<u2"), ("dl", "<u2")])
FORMAT = "columnar-1: header, row id gaps u1/u2/u4, tf ones/exceptions/u1/u2, dl - min u1/u2"
MAX_POSTINGS = 256  # the count and the tf exceptions' positions are one byte
HEADER = struct.Struct("<BBHHI")
_WIDTHS = (np.dtype("<u1"), np.dtype("<u2"), np.dtype("<u4"))
FEW_BLOCKS = 8  # encode_many encodes this many or fewer one at a time
_TF_ONES, _TF_EXCEPTIONS, _TF_U1, _TF_U2 = range(4)
_DL_U2 = 16


def join(parts: list[np.ndarray]) -> np.ndarray:
    """The POSTING arrays `parts` one after another (numpy's concatenate of structured
    arrays is several times slower than of the same bytes as 8-byte integers)."""
    return np.concatenate([np.ascontiguousarray(p).view("<u8") for p in parts]).view(POSTING)


def encode(postings: np.ndarray) -> bytes:
    """The block holding `postings` (POSTING, 1 to MAX_POSTINGS, sorted by row id)."""
    n = len(postings)
    if not 0 < n <= MAX_POSTINGS:
        raise ValueError(f"postings: a block holds 1 to {MAX_POSTINGS}, got {n}")
    if n == 1:  # most blocks of rare terms: no gaps, tf 1 (nothing) or a one-value column, dl - min_dl = 0
        rowid, tf, dl = postings[0].tolist()
        tf_mode, tf_bytes = (_TF_ONES, b"") if tf == 1 else (_TF_U1, bytes([tf])) if tf <= 0xFF else \
            (_TF_U2, tf.to_bytes(2, "little"))
        return HEADER.pack(0, tf_mode << 2, tf, dl, rowid) + tf_bytes + b"\0"
    rowids, tf, dl = postings["rowid"], postings["tf"], postings["dl"]
    max_tf, min_dl = int(tf.max()), int(dl.min())
    gaps = rowids[1:] - rowids[:-1]  # sorted, so no u4 wraps
    gap_code = _width_code(int(gaps.max()))
    tf_mode, tf_bytes = _tf_section(tf, max_tf)
    spread = dl - np.uint16(min_dl)
    dl_flag = _DL_U2 if int(spread.max()) > 255 else 0
    flags = gap_code | tf_mode << 2 | dl_flag
    return b"".join([HEADER.pack(n - 1, flags, max_tf, min_dl, int(rowids[0])),
                     gaps.astype(_WIDTHS[gap_code]).tobytes(), tf_bytes,
                     spread.astype("<u2" if dl_flag else "<u1").tobytes()])


def encode_many(postings: np.ndarray, starts: list[int]) -> list[bytes]:
    """`encode` of each block postings[starts[i]:starts[i + 1]] (the last to the end),
    the same bytes, with every block's widths and forms chosen in a few vector
    operations over all of them: a write encodes thousands of small blocks (its new
    terms'), where numpy's calls per block cost more than the encoding."""
    if len(starts) <= FEW_BLOCKS:  # the vector operations' fixed cost is that of ~10 blocks encoded alone
        return [encode(postings[a:b]) for a, b in zip(starts, starts[1:] + [len(postings)])]
    at = np.asarray(starts, dtype=np.int64)
    n = np.diff(at, append=len(postings))
    if at[0] != 0 or n.min() < 1 or n.max() > MAX_POSTINGS:
        raise ValueError(f"starts: blocks of 1 to {MAX_POSTINGS} postings covering all, got sizes {n.min()}..{n.max()}")
    block_of = np.repeat(np.arange(len(at)), n)
    rowids, tf, dl = postings["rowid"].astype(np.int64), postings["tf"], postings["dl"]
    gaps = np.diff(rowids, prepend=0)
    gaps[at] = 0  # a block's first posting has no gap
    max_gap, max_tf, min_tf = np.maximum.reduceat(gaps, at), np.maximum.reduceat(tf, at), np.minimum.reduceat(tf, at)
    gap_code = (max_gap > 0xFF).astype(np.int64) + (max_gap > 0xFFFF)
    min_dl = np.minimum.reduceat(dl, at)
    spread = dl - min_dl[block_of]
    dl_u2 = np.maximum.reduceat(spread, at) > 0xFF
    other = tf != 1
    exceptions = np.add.reduceat(other.astype(np.int64), at)
    tf_mode = np.where((max_tf == 1) & (min_tf == 1), _TF_ONES, np.where(
        max_tf > 0xFF, _TF_U2, np.where(1 + 2 * exceptions < n, _TF_EXCEPTIONS, _TF_U1)))
    head = np.empty(len(at), dtype=_HEADER_FIELDS)
    head["count"], head["max_tf"], head["min_dl"], head["first"] = n - 1, max_tf, min_dl, rowids[at]
    head["flags"] = gap_code | tf_mode << 2 | np.where(dl_u2, _DL_U2, 0)
    heads = head.tobytes()
    kept = np.delete(gaps, at)  # block i's gaps are kept[at[i] - i : at[i] + n[i] - i - 1]
    gap_bytes = [kept.astype(w).tobytes() if (gap_code == c).any() else b"" for c, w in enumerate(_WIDTHS)]
    where = np.flatnonzero(other)
    positions = (where - at[block_of[where]]).astype("<u1").tobytes()
    values = tf[where].astype("<u1").tobytes()
    tf1, tf2 = tf.astype("<u1").tobytes(), tf.astype("<u2").tobytes()
    dl1, dl2 = spread.astype("<u1").tobytes(), spread.astype("<u2").tobytes()
    first_exception = (np.cumsum(exceptions) - exceptions).tolist()
    out = []
    for i, (s, k, g, m, wide, x0, x) in enumerate(zip(at.tolist(), n.tolist(), gap_code.tolist(), tf_mode.tolist(),
                                                     dl_u2.tolist(), first_exception, exceptions.tolist())):
        w = 1 << g
        if m == _TF_ONES:
            tf_bytes = b""
        elif m == _TF_EXCEPTIONS:
            tf_bytes = bytes([x]) + positions[x0:x0 + x] + values[x0:x0 + x]
        else:
            tf_bytes = tf1[s:s + k] if m == _TF_U1 else tf2[2 * s:2 * (s + k)]
        out.append(b"".join([heads[10 * i:10 * i + 10], gap_bytes[g][(s - i) * w:(s + k - i - 1) * w], tf_bytes,
                             dl2[2 * s:2 * (s + k)] if wide else dl1[s:s + k]]))
    return out


def _width_code(largest: int) -> int:
    return 0 if largest <= 0xFF else 1 if largest <= 0xFFFF else 2


def _tf_section(tf: np.ndarray, max_tf: int) -> tuple[int, bytes]:
    """(tf mode, its bytes): the smallest of the forms max_tf allows."""
    if max_tf == 1 and int(tf.min()) == 1:
        return _TF_ONES, b""
    if max_tf > 0xFF:
        return _TF_U2, tf.astype("<u2").tobytes()
    where = np.flatnonzero(tf != 1)
    if 1 + 2 * len(where) < len(tf):
        return _TF_EXCEPTIONS, bytes([len(where)]) + where.astype("<u1").tobytes() + tf[where].astype("<u1").tobytes()
    return _TF_U1, tf.astype("<u1").tobytes()


def decode(blob: bytes) -> np.ndarray:
    """The postings of a block, POSTING sorted by row id."""
    count, flags, _, min_dl, first = HEADER.unpack_from(blob)
    n = count + 1
    out = np.empty(n, dtype=POSTING)
    at = HEADER.size
    gap_type = _WIDTHS[flags & 3]
    rowids = np.empty(n, dtype="<u4")
    rowids[0] = first
    rowids[1:] = np.frombuffer(blob, gap_type, n - 1, at)
    out["rowid"] = np.cumsum(rowids, out=rowids)  # the first row id, then each gap added
    at += (n - 1) * gap_type.itemsize
    tf_mode = flags >> 2 & 3
    if tf_mode in (_TF_ONES, _TF_EXCEPTIONS):
        out["tf"] = 1
        if tf_mode == _TF_EXCEPTIONS:
            e = blob[at]
            out["tf"][np.frombuffer(blob, "<u1", e, at + 1)] = np.frombuffer(blob, "<u1", e, at + 1 + e)
            at += 1 + 2 * e
    else:
        tf_type = np.dtype("<u1" if tf_mode == _TF_U1 else "<u2")
        out["tf"] = np.frombuffer(blob, tf_type, n, at)
        at += n * tf_type.itemsize
    dl = np.frombuffer(blob, "<u2" if flags & _DL_U2 else "<u1", n, at)
    np.add(dl, np.uint16(min_dl), out=out["dl"])
    return out


def append(blob: bytes, postings: np.ndarray, limit: int, last: int | None = None) -> bytes | None:
    """The block `blob` with `postings` (POSTING, sorted, all after its last row id,
    `last` if the caller knows it) added at its end by splicing bytes, without decoding
    it; None when they do not fit its widths or the block would pass `limit` postings
    (then decode and encode)."""
    count, flags, max_tf, min_dl, first = HEADER.unpack_from(blob)
    n, k = count + 1, len(postings)
    if n + k > min(limit, MAX_POSTINGS):
        return None
    gap_size, tf_mode, dl_size = 1 << (flags & 3), flags >> 2 & 3, 2 if flags & _DL_U2 else 1
    # Python ints and bytes: a write appends a posting or a few to most blocks, where numpy's calls cost more
    rowids, tf, dl = postings["rowid"].tolist(), postings["tf"].tolist(), postings["dl"].tolist()
    gaps = [b - a for a, b in zip([last_rowid(blob) if last is None else last] + rowids, rowids)]
    dl = [d - min_dl for d in dl]
    new_tf = max(tf)
    if max(gaps) >= 256 ** gap_size or min(dl) < 0 or max(dl) >= 256 ** dl_size:
        return None
    gaps_end = HEADER.size + count * gap_size
    tf_end = len(blob) - n * dl_size
    if tf_mode == _TF_ONES and new_tf == 1 and min(tf) == 1:
        tf_bytes = b""
    elif tf_mode == _TF_U1 and new_tf <= 0xFF or tf_mode == _TF_U2:
        tf_bytes = blob[gaps_end:tf_end] + _packed(tf, 1 if tf_mode == _TF_U1 else 2)
    elif tf_mode == _TF_EXCEPTIONS and new_tf <= 0xFF:
        e, where = blob[gaps_end], [i for i, t in enumerate(tf) if t != 1]
        if 1 + 2 * (e + len(where)) >= n + k:
            return None  # too many exceptions now: a column is smaller
        old = gaps_end + 1
        tf_bytes = b"".join([bytes([e + len(where)]), blob[old:old + e], bytes(n + i for i in where),
                             blob[old + e:old + 2 * e], bytes(tf[i] for i in where)])
    else:
        return None  # a change of tf form: encode chooses again
    header = HEADER.pack(n + k - 1, flags, max(max_tf, new_tf), min_dl, first)
    return b"".join([header, blob[HEADER.size:gaps_end], _packed(gaps, gap_size), tf_bytes,
                     blob[tf_end:], _packed(dl, dl_size)])


def _packed(values: list[int], size: int) -> bytes:
    """`values` (each fits) as little-endian unsigned integers of `size` bytes."""
    return bytes(values) if size == 1 else struct.pack(f"<{len(values)}{_STRUCT_CODES[size]}", *values)


_STRUCT_CODES = {2: "H", 4: "I"}


def bounds(blob: bytes) -> tuple[int, int]:
    """(highest term frequency, lowest document length) of a block's postings, from its
    header: a bound on the BM25 score any of them can reach."""
    _, _, max_tf, min_dl, _ = HEADER.unpack_from(blob)
    return max_tf, min_dl


def headers(blobs: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(postings, max tf, min dl, first row id) of each of `blobs`, read from their
    headers in a few vector operations: what a query needs of every block of its terms
    (its document frequency, its bounds, where it lies) before it decodes any."""
    fields = np.frombuffer(b"".join(b[:HEADER.size] for b in blobs), dtype=_HEADER_FIELDS)
    return fields["count"].astype(np.int64) + 1, fields["max_tf"], fields["min_dl"], fields["first"]


def headers_at(data: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`headers` of the blocks that begin at `starts` (int64) in `data` (their bytes
    joined, uint8): gathered in one indexing, no per-block bytes object."""
    fields = data[starts[:, None] + np.arange(HEADER.size)].view(_HEADER_FIELDS)[:, 0]
    return fields["count"].astype(np.int64) + 1, fields["max_tf"], fields["min_dl"], fields["first"]


_HEADER_FIELDS = np.dtype([("count", "u1"), ("flags", "u1"), ("max_tf", "<u2"), ("min_dl", "<u2"), ("first", "<u4")])
assert _HEADER_FIELDS.itemsize == HEADER.size  # the two spell the same header


def first_rowid(blob: bytes) -> int:
    """The lowest row id of a block."""
    return HEADER.unpack_from(blob)[4]


def last_rowid(blob: bytes) -> int:
    """The highest row id of a block (its gaps summed, without decoding the rest)."""
    count, flags, _, _, first = HEADER.unpack_from(blob)
    if count == 0:
        return first
    size = 1 << (flags & 3)
    if size == 1:
        return first + sum(blob[HEADER.size:HEADER.size + count])  # bytes are their values: no numpy call
    return first + sum(struct.unpack_from(f"<{count}{_STRUCT_CODES[size]}", blob, HEADER.size))
