"""The contracts of the index layer, whatever the backend: a `VectorIndex` answers
nearest-neighbour searches over one vector space by store row ids; an `IndexLifecycle`
keeps one current with the store. FAISS (faiss_base.py; manager.IndexManager) and
pgvector (pgvector.py) implement both; the factory in __init__.py picks one per store."""

from typing import Callable, Protocol

import numpy as np

from .spec import IndexSpec


class VectorIndex(Protocol):
    """A searchable vector index over one space, keyed by store row ids."""

    kind: str  # "flat", "hnsw", "ivf", ... (the spec's kind)
    spec: IndexSpec  # as configured
    params: dict  # the values in force (an IVF's nlist may be clamped to the data)
    dim: int
    metric: str  # "cosine", "dot" or "l2"
    binary: bool  # scores come from sign bits (rescoring helps)
    trained_on: int  # vectors an IVF/PQ index learned from (0: none needed)

    @property
    def effective_spec(self) -> str:
        """The spec with the values in force."""
        ...

    @property
    def ntotal(self) -> int:
        """Live entries: what a search can return."""
        ...

    @property
    def nbytes(self) -> int:
        """Bytes the index takes (0 when it holds nothing)."""
        ...

    @property
    def dead(self) -> int:
        """Removed entries still held (compaction drops them)."""
        ...

    def search(
        self, queries: np.ndarray, k: int, allow: np.ndarray | None = None, **params
    ) -> tuple[np.ndarray, np.ndarray]:
        """(row ids, scores), each (n_queries, k), best first, higher scores better;
        -1 / -inf pad when fewer than k entries qualify. `allow` restricts to these row
        ids; `params` are the kind's per-query parameters (ef, nprobe), checked by name."""
        ...


class IndexLifecycle(Protocol):
    """Keeps one space's index in step with the store (built, caught up, persisted)."""

    building: bool  # a build runs in the background

    def current(self, progress: Callable[[int], None] | None = None, wait: bool = True) -> VectorIndex:
        """The index, reflecting every write to the store."""
        ...

    def ready(self) -> bool:
        """True when a search can start at once in this process."""
        ...

    def build(
        self, spec: str = "auto", memory_budget=None, progress: Callable[[int], None] | None = None
    ) -> VectorIndex:
        """Set the spec and build the index now; a spec that cannot serve changes nothing."""
        ...

    def wait(self) -> None:
        """Finish a background build, if one runs."""
        ...

    def save(self) -> None:
        """Persist what changed (nothing, where the database keeps the index)."""
        ...

    def info(self) -> dict:
        """What the index is and whether it reflects the store."""
        ...
