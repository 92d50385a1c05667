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
    gap_type, tf_mode, dl_type = _WIDTHS[flags & 3], flags >> 2 & 3, _WIDTHS[1 if flags & _DL_U2 else 0]
    # Python ints: a write appends a posting or a few to most blocks, where numpy's calls cost more
    rowids, tf = postings["rowid"].tolist(), postings["tf"].tolist()
    dl = [d - min_dl for d in postings["dl"].tolist()]
    gaps = [b - a for a, b in zip([last_rowid(blob) if last is None else last] + rowids, rowids)]
    new_tf = max(tf)
    if n + k > min(limit, MAX_POSTINGS) or max(gaps) >= 256 ** gap_type.itemsize or min(dl) < 0 \
            or max(dl) >= 256 ** dl_type.itemsize:
        return None
    gaps_end = HEADER.size + count * gap_type.itemsize
    tf_end = len(blob) - n * dl_type.itemsize
    if tf_mode == _TF_ONES and new_tf == 1 and min(tf) == 1:
        tf_bytes = b""
    elif tf_mode == _TF_U1 and new_tf <= 0xFF or tf_mode == _TF_U2:
        tf_bytes = blob[gaps_end:tf_end] + np.array(tf, "<u1" if tf_mode == _TF_U1 else "<u2").tobytes()
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
    return b"".join([header, blob[HEADER.size:gaps_end], np.array(gaps, gap_type).tobytes(), tf_bytes,
                     blob[tf_end:], np.array(dl, dl_type).tobytes()])


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
    return first + int(np.frombuffer(blob, _WIDTHS[flags & 3], count, HEADER.size).sum(dtype=np.int64))
