"""The assignment step of k-means on Ray: every vector to its nearest centroid, in row
blocks spread over Ray tasks. The centroids are trained locally (as without Ray); each
task searches its block exactly in the same FAISS index type that k-means itself uses
(inner product for spherical k-means, L2 otherwise), so the labels equal the local
assignment."""

import numpy as np

from .ray_connect import connect

BLOCK_ROWS = 20_000  # 30 MiB of 384-d float32 a task
IN_FLIGHT = 4  # blocks in the object store at once (it is capped)


def _assign_block(centroids: np.ndarray, block: np.ndarray, spherical: bool) -> np.ndarray:
    """Nearest centroid of each row of `block` (a Ray task)."""
    import faiss

    faiss.omp_set_num_threads(1)
    index = (faiss.IndexFlatIP if spherical else faiss.IndexFlatL2)(centroids.shape[1])
    index.add(np.ascontiguousarray(centroids, dtype=np.float32))
    return index.search(np.ascontiguousarray(block, dtype=np.float32), 1)[1].ravel().astype(np.int64)


def assign_nearest(centroids: np.ndarray, vectors: np.ndarray, spherical: bool, address: str = "auto",
                   block_rows: int = BLOCK_ROWS, cpus_per_task: float = 0.5) -> np.ndarray:
    """Label of the nearest centroid for every row of `vectors`, computed by Ray tasks
    on blocks of `block_rows` rows (at most IN_FLIGHT blocks outstanding)."""
    labels = np.empty(len(vectors), dtype=np.int64)
    with connect(address) as ray:
        task = ray.remote(num_cpus=cpus_per_task, max_retries=3)(_assign_block)
        centroids_ref = ray.put(np.ascontiguousarray(centroids, dtype=np.float32))
        starts = list(range(0, len(vectors), block_rows))
        running: dict = {}
        while starts or running:
            while starts and len(running) < IN_FLIGHT:
                start = starts.pop(0)
                running[task.remote(centroids_ref, vectors[start:start + block_rows], spherical)] = start
            done, _ = ray.wait(list(running), num_returns=1)
            start = running.pop(done[0])
            block = ray.get(done[0])
            labels[start:start + len(block)] = block
    return labels
