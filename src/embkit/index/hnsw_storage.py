"""An HNSW index's float32 vectors kept out of its file: the store already holds them.

FAISS's IndexHNSWFlat is a graph plus a flat copy of every vector (1,536 bytes a 384-d
vector, ten times the graph at M=16). Saved with IO_FLAG_SKIP_STORAGE the file is the
graph alone; on load the copy is refilled from the store in the index's label order
(`rowids[label]` names each label's row). What the store cannot give back is kept or
estimated:
- dead entries (deleted or replaced rows) still route searches through the graph, and
  their vectors are gone from the store or changed: saved beside the graph (`dead`), a
  small file since a quarter dead triggers a rebuild (manager.COMPACT_DEAD_SHARE);
- live entries whose rows changed after the save (the index catches up on them at once,
  hiding them) get the mean of their graph neighbours, so routing through them stays
  close to what it was; the scores of live results are always exact.
"""

import faiss
import numpy as np

from .stored_vectors import fill_by_label


def write_graph(index, path) -> None:
    """Write the HNSW graph without its vectors (`index`: an HnswIndex)."""
    index.write_faiss(path, faiss.IO_FLAG_SKIP_STORAGE, buffered=True)


def dead_vectors(index) -> np.ndarray:
    """(n dead, dim) float32: the vectors of the index's dead entries, in label order."""
    labels = np.flatnonzero(~index.live)
    if len(labels) == 0:
        return np.empty((0, index.dim), np.float32)
    return np.asarray(index._faiss.reconstruct_batch(labels), dtype=np.float32)


def refill(index, dead: np.ndarray, store, space: str, generation: int) -> int:
    """Give a graph read without its vectors (`index._faiss.storage` is None) a flat
    storage again: live entries from `store`'s vectors of `space`, dead ones from
    `dead`. Returns how many live entries were estimated (their rows changed or went
    since `generation`). ValueError if `dead` does not fit the index."""
    n, dim = len(index.rowids), index.dim
    dead_labels = np.flatnonzero(~index.live)
    if dead.shape != (len(dead_labels), dim):
        raise ValueError(f"dead vectors: shape {dead.shape}, expected {(len(dead_labels), dim)}")
    # the class FAISS gives IndexHNSWFlat, so distances are computed exactly as before the save
    storage = faiss.IndexFlatL2(dim) if index._faiss.metric_type == faiss.METRIC_L2 else faiss.IndexFlatIP(dim)
    storage.codes.resize(n * dim * 4)
    storage.ntotal = n
    matrix = faiss.rev_swig_ptr(storage.codes.data(), n * dim * 4).view(np.float32).reshape(n, dim)
    matrix[dead_labels] = dead
    known = ~index.live
    known |= fill_by_label(matrix, index, store, space, generation)
    unknown = np.flatnonzero(~known)
    if len(unknown):
        _estimate(matrix, known, unknown, index._faiss.hnsw)
    index._faiss.storage = storage
    storage.this.disown()  # the HNSW index owns its storage from now on
    index._faiss.own_fields = True
    return len(unknown)


def _estimate(matrix: np.ndarray, known: np.ndarray, unknown: np.ndarray, hnsw) -> None:
    """Each unknown label's vector as the mean of its known level-0 neighbours (zeros if
    none is known): a dead entry only routes, and routes much as before."""
    offsets = faiss.rev_swig_ptr(hnsw.offsets.data(), hnsw.offsets.size()).astype(np.int64)
    neighbors = faiss.rev_swig_ptr(hnsw.neighbors.data(), hnsw.neighbors.size())
    cum = faiss.vector_to_array(hnsw.cum_nneighbor_per_level)
    for label in unknown:
        start = offsets[label]
        near = neighbors[start + cum[0]:start + cum[1]]
        near = near[near >= 0]
        near = near[known[near]]
        matrix[label] = matrix[near].mean(axis=0) if len(near) else 0.0
