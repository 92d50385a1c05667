"""Many keyword blocks decoded at once: the postings of keyword_blocks.py's blocks in a
fixed number of numpy operations, however many blocks, where `keyword_blocks.decode`
costs a dozen operations per block (a query at a million documents decodes hundreds).

It reads keyword_blocks.FORMAT "columnar-1" (see that module's docstring); a block in
any other format is decoded by `keyword_blocks.decode` one at a time, so a change of
the format there cannot give wrong postings here, only slower ones
(tests/store/test_keyword_topk.py checks the two agree on random blocks).
"""

import numpy as np

from . import keyword_blocks
from .keyword_blocks import POSTING

FORMAT = "columnar-1: header, row id gaps u1/u2/u4, tf ones/exceptions/u1/u2, dl - min u1/u2"
HEADER = 10  # bytes: count - 1 (u1), flags (u1), max tf (u2), min dl (u2), first row id (u4)
TF_ONES, TF_EXCEPTIONS, TF_U1, TF_U2 = range(4)
DL_U2 = 16
_COLUMN_WIDTH = np.array([0, 0, 1, 2], dtype=np.int64)  # tf bytes per posting, by mode


def decode_many(blobs: list[bytes]) -> np.ndarray:
    """The postings of `blobs`, block after block (POSTING; each block's sorted by row id)."""
    rowids, tf, dl = decode_columns(blobs)
    out = np.empty(len(rowids), dtype=POSTING)
    out["rowid"], out["tf"], out["dl"] = rowids, tf, dl
    return out


def decode_columns(blobs: list[bytes], heads: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row ids int64, tf, dl) of the postings of `blobs`, block after block; `heads`:
    their postings, min dl and first row ids (int64) if the caller has read them already
    (keyword_blocks.headers), not read again."""
    if not blobs:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint16), np.zeros(0, dtype=np.uint16)
    if keyword_blocks.FORMAT != FORMAT:
        postings = np.concatenate([keyword_blocks.decode(b) for b in blobs])
        return postings["rowid"].astype(np.int64), postings["tf"], postings["dl"]
    buf = np.frombuffer(b"".join([*blobs, bytes(4)]), dtype=np.uint8)
    lengths = np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs))
    base = np.cumsum(lengths) - lengths
    flags = buf[base + 1].astype(np.int64)
    if heads is None:
        n, min_dl, first = buf[base].astype(np.int64) + 1, _read(buf, base + 4, 2), _read(buf, base + 6, 4)
    else:
        n, min_dl, first = heads
    starts = np.cumsum(n) - n  # each block's first posting in the output
    place = np.arange(int(n.sum()))
    gap_width = 1 << (flags & 3)
    # posting starts[b] + j of block b: its gap at base + HEADER + (j - 1) * width (j = 0 reads
    # header bytes, replaced by the first row id), written as a per-block offset plus place * width
    values = _read_column(buf, base + HEADER - gap_width, gap_width, starts, n, place).astype(np.int64)
    values[starts] = first
    sums = np.cumsum(values)
    rowids = sums - np.repeat(sums[starts] - first, n)  # first row id, then gaps added
    tf_at = base + HEADER + (n - 1) * gap_width
    tf, tf_bytes = _tf(buf, flags >> 2 & 3, tf_at, n, starts, place)
    dl = _read_column(buf, tf_at + tf_bytes, np.where(flags & DL_U2, 2, 1), starts, n, place) + np.repeat(min_dl, n)
    return rowids, tf, dl


def _read_column(buf: np.ndarray, at: np.ndarray, width: np.ndarray, starts: np.ndarray, n: np.ndarray,
                 place: np.ndarray) -> np.ndarray:
    """Each block's column of n values of `width` bytes from its offset `at`, block after block."""
    if (width == width[0]).all():
        w = int(width[0])
        return _read(buf, np.repeat(at - starts * w, n) + place * w, w)
    w = np.repeat(width, n)
    return _read(buf, np.repeat(at - starts * width, n) + place * w, w)


def _tf(buf: np.ndarray, mode: np.ndarray, at: np.ndarray, n: np.ndarray, starts: np.ndarray,
        place: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(every posting's tf, each block's bytes of tf): ones, ones with exceptions, or a u1/u2 column."""
    if (mode >= TF_U1).any():
        column = _read_column(buf, at, np.where(mode == TF_U2, 2, 1), starts, n, place)
        tf = np.where(np.repeat(mode >= TF_U1, n), column, 1)
    else:
        tf = np.ones(len(place), dtype=np.int64)
    exceptions = np.where(mode == TF_EXCEPTIONS, buf[at].astype(np.int64), 0)
    if exceptions.any():
        which = np.repeat(np.arange(len(mode)), exceptions)
        i = np.arange(int(exceptions.sum())) - (np.cumsum(exceptions) - exceptions)[which]
        where = buf[at[which] + 1 + i].astype(np.int64)
        tf[starts[which] + where] = buf[at[which] + 1 + exceptions[which] + i]
    # a column's bytes per posting by mode (ones and exceptions: none); np.select costs more on few blocks
    tf_bytes = _COLUMN_WIDTH[mode] * n + np.where(mode == TF_EXCEPTIONS, 1 + 2 * exceptions, 0)
    return tf, tf_bytes


def _read(buf: np.ndarray, at: np.ndarray, width) -> np.ndarray:
    """Little-endian unsigned integers of `width` bytes (1, 2 or 4; per value, or one
    number for all) at `at`."""
    if isinstance(width, int):  # the common case: one width, fewer passes
        value = buf[at] if width == 1 else buf[at].astype(np.int64) | buf[at + 1].astype(np.int64) << 8
        if width == 4:
            value |= (buf[at + 2].astype(np.int64) | buf[at + 3].astype(np.int64) << 8) << 16
        return value
    value = buf[at].astype(np.int64)
    two = width >= 2
    if two.any():
        value |= np.where(two, buf[at + 1].astype(np.int64) << 8, 0)
        four = width == 4
        if four.any():
            high = buf[at + 2].astype(np.int64) | buf[at + 3].astype(np.int64) << 8
            value |= np.where(four, high << 16, 0)
    return value
