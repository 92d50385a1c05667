"""IVF with product quantization: each vector stored as `m` codes of `nbits` bits
(48 bytes for 384-d at the defaults: 32x smaller than float32)."""

import faiss

from ..errors import EmbkitError
from .faiss_base import FaissIndex
from .flat import metric_type
from .ivf import effective_nlist, train


class IvfPqIndex(FaissIndex):
    """`ivfpq:nlist=1024,m=48,nbits=8,nprobe=16`."""

    kind = "ivfpq"

    def _create(self, sample):
        m, nbits = self.params["m"], self.params["nbits"]
        if self.dim % m:
            raise EmbkitError(f"spec: ivfpq m={m} must divide the dimension {self.dim}")
        if len(sample) < 2 ** nbits:
            raise EmbkitError(f"vectors: ivfpq with nbits={nbits} needs at least {2 ** nbits} vectors "
                              f"to train, got {len(sample)}")
        nlist = effective_nlist(self.params["nlist"], len(sample))
        self.params["nlist"] = nlist
        quantizer = faiss.IndexFlat(self.dim, metric_type(self.metric))
        index = faiss.IndexIVFPQ(quantizer, self.dim, nlist, m, nbits, metric_type(self.metric))
        train(index, sample, max(nlist, 2 ** nbits))
        index.nprobe = min(self.params["nprobe"], nlist)
        return index

    def _search_parameters(self, selector, params, k):
        return faiss.SearchParametersIVF(sel=selector, nprobe=params.get("nprobe", self.params["nprobe"]))
