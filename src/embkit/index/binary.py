"""Binary quantization: the sign of each dimension as one bit (32x smaller than
float32), searched by Hamming distance; meant to be rescored."""

import faiss
import numpy as np

from ..errors import EmbkitError
from .faiss_base import FaissIndex


class BinaryIndex(FaissIndex):
    """`binary`: sign bits approximate the angle between vectors, so only cosine fits."""

    kind = "binary"
    metrics = ("cosine",)
    binary = True

    def __init__(self, spec, dim, metric):
        if dim % 8:
            raise EmbkitError(f"dim: the binary index needs a dimension divisible by 8, got {dim}")
        super().__init__(spec, dim, metric)

    def _create(self, sample):
        return faiss.IndexBinaryFlat(self.dim)

    def _codes(self, vectors):
        return np.packbits(vectors > 0, axis=1)

    def _scores(self, distances):
        # Hamming distance h of d bits estimates the angle as pi*h/d
        return np.cos(np.pi * distances / self.dim).astype(np.float32)
