"""Exact search in FAISS: every vector compared, nothing approximated."""

import faiss

from .faiss_base import FaissIndex


def metric_type(metric: str) -> int:
    """Cosine vectors are unit length, so cosine and dot are both inner products."""
    return faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT


class FlatIndex(FaissIndex):
    """`flat`: brute force, exact; 4 bytes a dimension."""

    kind = "flat"

    def _create(self, sample):
        return faiss.IndexFlat(self.dim, metric_type(self.metric))
