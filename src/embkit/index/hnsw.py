"""HNSW graph: fast approximate search at high recall, float32 storage plus the graph."""

import faiss

from .faiss_base import FaissIndex
from .flat import metric_type

# Parameters of unfiltered searches, one per beam width: FAISS only reads them, so every
# index and thread may share them (building one per call costs a few µs of SWIG).
_UNFILTERED: dict[int, faiss.SearchParametersHNSW] = {}


class HnswIndex(FaissIndex):
    """`hnsw:M=32,efc=200,ef=64`: M links a node, efc the build beam, ef the search beam."""

    kind = "hnsw"

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
