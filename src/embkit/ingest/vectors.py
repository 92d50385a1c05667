"""Vectors as a space stores them: float32, and unit length for the cosine metric."""

import numpy as np

from ..encoders.base import l2_normalize
from ..errors import EmbkitError

UNIT = 1e-6  # a row this close to unit length is left as it is (l2_normalize's rows: within 2e-7)


def stored_form(vectors, metric: str, field: str) -> np.ndarray:
    """Float32; unit length for cosine (a zero vector has no direction: refused, naming
    `field` and the row). Its own result comes back bit for bit: a row of unit length is
    not divided again (which moves a third of them by an ulp), so the embedding cache can
    serve a stored vector as the same bits a write of it keeps."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if metric == "cosine":
        norms = np.sqrt(np.add.reduce(vectors * vectors, axis=1))  # np.linalg.norm's own sum, without its checks
        if len(norms) == 1:  # a query: the same float32 comparisons on the scalar, without array calls
            if norms[0] < 1e-12:
                raise EmbkitError(f"{field}[0]: zero vector cannot be used with the cosine metric")
            return vectors if abs(norms[0] - 1) <= UNIT else l2_normalize(vectors)
        zero = norms < 1e-12
        if zero.any():
            raise EmbkitError(f"{field}[{np.flatnonzero(zero)[0]}]: zero vector cannot be used with the cosine metric")
        off = np.abs(norms - 1) > UNIT
        if off.all():
            vectors = l2_normalize(vectors)
        elif off.any():
            vectors = vectors.copy()
            vectors[off] = l2_normalize(vectors[off])
    return vectors
