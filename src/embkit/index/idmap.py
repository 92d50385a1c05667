"""The id map on disk, compactly: row ids as runs of consecutive values, live flags as bits.

Row ids come from AUTOINCREMENT in insertion order, so an index's map is mostly one
run; storing it as (start, length) pairs instead of 8 bytes per entry is what lets a
quantized index keep its advertised ratio (sq8: 4x smaller than float32).
"""

import numpy as np


def to_runs(rowids: np.ndarray) -> np.ndarray:
    """(r, 2) int64 array of (first row id, length) for each run of consecutive ids."""
    rowids = np.asarray(rowids, dtype=np.int64)
    if len(rowids) == 0:
        return np.empty((0, 2), np.int64)
    breaks = np.flatnonzero(np.diff(rowids) != 1) + 1
    starts = np.concatenate([[0], breaks])
    lengths = np.diff(np.concatenate([starts, [len(rowids)]]))
    return np.stack([rowids[starts], lengths], axis=1).astype(np.int64)


def from_runs(runs: np.ndarray) -> np.ndarray:
    runs = np.asarray(runs, dtype=np.int64).reshape(-1, 2)
    if len(runs) == 0:
        return np.empty(0, np.int64)
    if (runs[:, 1] < 1).any():
        raise ValueError("id map: a run of non-positive length")
    offsets = np.repeat(runs[:, 0] - np.concatenate([[0], np.cumsum(runs[:-1, 1])]), runs[:, 1])
    return offsets + np.arange(int(runs[:, 1].sum()), dtype=np.int64)


def pack_live(live: np.ndarray) -> np.ndarray:
    return np.packbits(np.asarray(live, dtype=bool), bitorder="little")


def unpack_live(bits: np.ndarray, n: int) -> np.ndarray:
    if len(bits) != (n + 7) // 8:
        raise ValueError(f"live flags: {len(bits)} bytes for {n} entries")
    return np.unpackbits(np.asarray(bits, dtype=np.uint8), count=n, bitorder="little").astype(bool)


def nbytes(rowids: np.ndarray, live: np.ndarray) -> int:
    """Bytes the id map takes on disk (before the .npy headers)."""
    return int(to_runs(rowids).nbytes + (len(live) + 7) // 8)
