"""Vector indexes: FAISS backends behind one interface, chosen by a spec string."""

from .base import VectorIndex
from .binary import BinaryIndex
from .flat import FlatIndex
from .hnsw import HnswIndex
from .ivf import IvfIndex
from .ivfpq import IvfPqIndex
from .spec import IndexSpec, parse_size, parse_spec, resolve_auto
from .sq8 import Sq8Index

BACKENDS: dict[str, type[VectorIndex]] = {
    cls.kind: cls for cls in (FlatIndex, HnswIndex, IvfIndex, IvfPqIndex, Sq8Index, BinaryIndex)
}


def make_index(spec: IndexSpec | str, dim: int, metric: str) -> VectorIndex:
    """A new, empty index for a spec (`auto` must be resolved first)."""
    spec = parse_spec(spec) if isinstance(spec, str) else spec
    return BACKENDS[spec.kind](spec, dim, metric)


__all__ = ["VectorIndex", "IndexSpec", "BACKENDS", "make_index", "parse_spec", "parse_size", "resolve_auto"]
