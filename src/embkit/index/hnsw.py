"""HNSW graph: fast approximate search at high recall, float32 storage plus the graph."""

import faiss

from .base import VectorIndex
from .flat import metric_type


class HnswIndex(VectorIndex):
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
        return faiss.SearchParametersHNSW(sel=selector, efSearch=ef)
