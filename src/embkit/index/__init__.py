"""Vector indexes behind one contract (protocol.py), and the factories that pick a
backend: FAISS in process (chosen by a spec string), or pgvector in a PostgreSQL store."""

from pathlib import Path

from .binary import BinaryIndex
from .faiss_base import FaissIndex
from .flat import FlatIndex
from .hnsw import HnswIndex
from .ivf import IvfIndex
from .ivfpq import IvfPqIndex
from .manager import IndexManager
from .pgvector import PgIndexManager
from .protocol import IndexLifecycle, VectorIndex
from .spec import IndexSpec, parse_size, parse_spec, resolve_auto
from .sq8 import Sq8Index

BACKENDS: dict[str, type[FaissIndex]] = {
    cls.kind: cls for cls in (FlatIndex, HnswIndex, IvfIndex, IvfPqIndex, Sq8Index, BinaryIndex)
}
IN_DATABASE = {"postgresql": PgIndexManager}  # store backends whose database keeps the vector index


def make_index(spec: IndexSpec | str, dim: int, metric: str) -> FaissIndex:
    """A new, empty FAISS index for a spec (`auto` must be resolved first)."""
    spec = parse_spec(spec) if isinstance(spec, str) else spec
    return BACKENDS[spec.kind](spec, dim, metric)


def index_manager(store, space, folder: Path) -> IndexLifecycle:
    """The index of `space` for this store: pgvector's inside a PostgreSQL database,
    else embkit's FAISS index with its files in `folder`."""
    in_database = IN_DATABASE.get(store.backend)
    return in_database(store, space) if in_database else IndexManager(store, space, folder)


def in_database(store) -> bool:
    """True when the store's database keeps the vector index itself (pgvector)."""
    return store.backend in IN_DATABASE


__all__ = [
    "VectorIndex",
    "IndexLifecycle",
    "FaissIndex",
    "IndexSpec",
    "BACKENDS",
    "make_index",
    "index_manager",
    "in_database",
    "parse_spec",
    "parse_size",
    "resolve_auto",
]
