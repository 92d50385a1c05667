"""Vectors as a space stores them: float32, and unit length for the cosine metric."""

import numpy as np

from ..encoders.base import l2_normalize
from ..errors import EmbkitError


def stored_form(vectors, metric: str, field: str) -> np.ndarray:
    """Float32; unit length for cosine (a zero vector has no direction: refused, naming
    `field` and the row)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if metric == "cosine":
        norms = np.linalg.norm(vectors, axis=1)
        zero = np.flatnonzero(norms < 1e-12)
        if zero.size:
            raise EmbkitError(f"{field}[{zero[0]}]: zero vector cannot be used with the cosine metric")
        vectors = l2_normalize(vectors)
    return vectors
