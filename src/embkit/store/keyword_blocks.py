"""The byte format of one block of a term's keyword postings (see keyword_sqlite.py).

A block holds up to keyword_sqlite.BLOCK postings sorted by row id; `decode` gives
them as a structured array of POSTING (row id, term frequency, document length), the
only view of a block that the rest of the index uses, so the format can change here.
"""

import numpy as np

POSTING = np.dtype([("rowid", "<u4"), ("tf", "<u2"), ("dl", "<u2")])


def encode(postings: np.ndarray) -> bytes:
    """The block holding `postings` (POSTING, sorted by row id, at least one)."""
    return np.ascontiguousarray(postings, dtype=POSTING).tobytes()


def decode(blob: bytes) -> np.ndarray:
    """The postings of a block, POSTING sorted by row id (read-only)."""
    return np.frombuffer(blob, dtype=POSTING)


def bounds(blob: bytes) -> tuple[int, int]:
    """(highest term frequency, lowest document length) of a block's postings: a
    bound on the BM25 score any of them can reach."""
    postings = decode(blob)
    return int(postings["tf"].max()), int(postings["dl"].min())


def first_rowid(blob: bytes) -> int:
    """The lowest row id of a block."""
    return int.from_bytes(blob[:4], "little")


def last_rowid(blob: bytes) -> int:
    """The highest row id of a block."""
    return int.from_bytes(blob[-POSTING.itemsize:][:4], "little")
