"""Inverted file: vectors bucketed by a k-means coarse quantizer; a search visits
`nprobe` of the `nlist` buckets."""

import faiss
import numpy as np

from ..errors import EmbkitError
from . import ivf_storage
from .faiss_base import FaissIndex
from .flat import metric_type

POINTS_PER_CENTROID = 39  # FAISS's own minimum for a k-means cluster


def effective_nlist(nlist: int, n: int) -> int:
    """No more buckets than the data can train (a tiny collection gets fewer)."""
    return max(1, min(nlist, n // POINTS_PER_CENTROID))


def training_sample(vectors: np.ndarray, nlist: int, seed: int = 0) -> np.ndarray:
    """At most 256 points per centroid, drawn with a fixed seed."""
    limit = max(nlist * 256, 10_000)
    if len(vectors) <= limit:
        return vectors
    rows = np.random.default_rng(seed).choice(len(vectors), limit, replace=False)
    return vectors[np.sort(rows)]


class IvfIndex(FaissIndex):
    """`ivf:nlist=1024,nprobe=16`: float32 vectors in k-means buckets."""

    kind = "ivf"
    vectors_apart = True  # can be saved without its vectors (see persist)
    apart_file = "lists"  # what the store cannot give back: which list holds each entry, in order

    def write_without_vectors(self, path) -> None:
        """Write the quantizer and empty lists (the store holds the vectors)."""
        ivf_storage.write_without_lists(self, path)

    def kept_apart(self):
        return ivf_storage.layout(self)

    def refill(self, lists, store, space: str, generation: int) -> int:
        """Vectors back into lists read empty; see ivf_storage.refill."""
        return ivf_storage.refill(self, lists, store, space, generation)

    def _create(self, sample):
        nlist = effective_nlist(self.params["nlist"], len(sample))
        self.params["nlist"] = nlist
        quantizer = faiss.IndexFlat(self.dim, metric_type(self.metric))
        index = faiss.IndexIVFFlat(quantizer, self.dim, nlist, metric_type(self.metric))
        train(index, sample, nlist)
        index.nprobe = min(self.params["nprobe"], nlist)
        return index

    def _search_parameters(self, selector, params, k):
        return faiss.SearchParametersIVF(sel=selector, nprobe=params.get("nprobe", self.params["nprobe"]))


def train(index, sample: np.ndarray, nlist: int) -> None:
    if len(sample) < nlist:
        raise EmbkitError(f"vectors: {len(sample)} are too few to train {nlist} lists")
    index.cp.seed = 1234  # fixed seed: the same data gives the same index
    index.cp.min_points_per_centroid = 1  # small collections train fewer points: no warning
    if hasattr(index, "pq"):
        index.pq.cp.min_points_per_centroid = 1
    index.train(training_sample(sample, nlist))
