"""Vectors as a space stores them: float32, and unit length for the cosine metric."""

import numpy as np

from ..encoders.base import l2_normalize
from ..errors import EmbkitError

UNIT = 1e-6  # a row this close to unit length is left as it is (l2_normalize's rows: within 2e-7)
TINY = 1e-12  # a float32 length below this (or infinite) is measured again in float64
MAX_LENGTH = 1e18  # l2/dot: longer rows make float32 distances overflow (|q-x|^2 <= (2e18)^2 << 3.4e38)


def stored_form(vectors, metric: str, field: str) -> np.ndarray:
    """Float32; unit length for cosine (a zero vector has no direction: refused, naming
    `field` and the row); for l2 and dot, no longer than MAX_LENGTH (refused, naming the
    row). Its own result comes back bit for bit: a row of unit length is not divided
    again (which moves a third of them by an ulp), so the embedding cache can serve a
    stored vector as the same bits a write of it keeps. A finite row whose float32 sum of
    squares overflows (x1e20) or underflows (x1e-25) is normalized in float64, which
    holds any float32 row's squares: float32 gave it length inf (normalized to zeros) or 0."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is looked at below
        norms = np.sqrt(np.add.reduce(vectors * vectors, axis=1))  # np.linalg.norm's own sum, without its checks
    if metric != "cosine":
        over = norms > MAX_LENGTH
        if over.any():
            row = int(np.flatnonzero(over)[0])
            raise EmbkitError(
                f"{field}[{row}]: length {_length(vectors[row]):.3g} is over the limit of "
                f"{MAX_LENGTH:g} for the {metric} metric (its float32 scores would overflow)"
            )
        return vectors
    if len(norms) == 1:  # a query: the same float32 comparisons on the scalar, without array calls
        if TINY <= norms[0] < np.inf:
            return vectors if abs(norms[0] - 1) <= UNIT else l2_normalize(vectors)
        return _wide_normalized(vectors, field, 0)
    wide = ~((norms >= TINY) & (norms < np.inf))  # NaN rows too: as before, they come out NaN
    off = np.abs(norms - 1) > UNIT
    if off.all() and not wide.any():
        return l2_normalize(vectors)
    if off.any():
        vectors = vectors.copy()
        plain = off & ~wide
        if plain.any():
            vectors[plain] = l2_normalize(vectors[plain])
        for row in np.flatnonzero(wide):
            vectors[row] = _wide_normalized(vectors[row : row + 1], field, row)
    return vectors


def _length(row: np.ndarray) -> float:
    return float(np.sqrt(np.add.reduce(row.astype(np.float64) ** 2)))


def _wide_normalized(row: np.ndarray, field: str, index: int) -> np.ndarray:
    """A (1, dim) row at unit length through float64; an all-zero row refused."""
    wide = row.astype(np.float64)
    length = float(np.sqrt(np.add.reduce(wide[0] ** 2)))  # _length's, on the float64 row made once
    if length == 0:
        raise EmbkitError(f"{field}[{index}]: zero vector cannot be used with the cosine metric")
    return (wide / length).astype(np.float32)
