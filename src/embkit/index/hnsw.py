"""HNSW graph: fast approximate search at high recall, float32 storage plus the graph.
Saved, the file holds the graph only: the vectors are refilled from the store on load
(hnsw_storage)."""

import faiss

from . import hnsw_storage
from .faiss_base import FaissIndex
from .flat import metric_type

# Parameters of unfiltered searches, one per beam width: FAISS only reads them, so every
# index and thread may share them (building one per call costs a few µs of SWIG).
_UNFILTERED: dict[int, faiss.SearchParametersHNSW] = {}


class HnswIndex(FaissIndex):
    """`hnsw:M=16,efc=200,ef=128`: M links a node, efc the build beam, ef the search beam."""

    kind = "hnsw"
    vectors_apart = True  # can be saved without its vectors (see persist)
    apart_file = "dead"  # what the store cannot give back: the dead entries' vectors

    def write_without_vectors(self, path) -> None:
        """Write the graph without the vectors (the store holds them)."""
        hnsw_storage.write_graph(self, path)

    def kept_apart(self):
        """The vectors of dead entries, which the store no longer holds as indexed."""
        return hnsw_storage.dead_vectors(self)

    def refill(self, dead, store, space: str, generation: int) -> int:
        """Vectors back into a graph read without them; see hnsw_storage.refill."""
        return hnsw_storage.refill(self, dead, store, space, generation)

    def _create(self, sample):
        index = faiss.IndexHNSWFlat(self.dim, self.params["M"], metric_type(self.metric))
        index.hnsw.efConstruction = self.params["efc"]
        index.hnsw.efSearch = self.params["ef"]
        return index

    def _search_parameters(self, selector, params, k):
        # the beam must be at least k wide or fewer than k results come back
        ef = max(params.get("ef", self.params["ef"]), k)
        if selector is not None:
            return faiss.SearchParametersHNSW(sel=selector, efSearch=ef)
        cached = _UNFILTERED.get(ef)
        if cached is None:
            cached = _UNFILTERED[ef] = faiss.SearchParametersHNSW(efSearch=ef)
        return cached
