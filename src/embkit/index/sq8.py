"""Scalar quantization: one byte a dimension (4x smaller than float32)."""

import faiss

from .faiss_base import FaissIndex
from .flat import metric_type


class Sq8Index(FaissIndex):
    """`sq8`: int8 codes with per-dimension ranges learned from the data; exhaustive search."""

    kind = "sq8"

    def _create(self, sample):
        index = faiss.IndexScalarQuantizer(self.dim, faiss.ScalarQuantizer.QT_8bit, metric_type(self.metric))
        index.train(sample)
        return index
