"""The Store protocol: what a collection needs from its backend. SQLite is the
embedded default; a server database (PostgreSQL) implements the same methods later,
so neither the CLI nor the server ever knows which backend it holds."""

from pathlib import Path
from typing import ContextManager, Iterable, Protocol, Sequence

import numpy as np

from .types import Record, Space


class Store(Protocol):
    """Documents, metadata and vectors; every write one transaction."""

    path: Path  # where the collection lives (a folder, for SQLite)
    backend: str  # "sqlite" or "postgresql", for info
    read_only: bool  # opened read-only (SQLite on a read-only mount, say): every write refuses

    @property
    def generation(self) -> int:
        """Counts changes to vectors and text; indexes record the one they reflect."""
        ...

    @property
    def identity(self) -> str | None:
        """The collection's UUID; derived files record it, and another's are rebuilt.
        None only where the store has none and cannot be written (no check then)."""
        ...

    def settled(self) -> ContextManager:
        """Held while reading what an index catches up from: nothing uncommitted is read
        inside (SQLite: one read snapshot of this thread's connection, so generation,
        changes and vectors are of one state; PostgreSQL: each read sees only commits)."""
        ...

    def spaces(self) -> dict[str, Space]: ...

    def add_space(self, space: Space) -> None: ...

    def meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str | None) -> None: ...

    def count(self, where: dict | None = None) -> int: ...

    def count_documents(self, where: dict | None = None) -> int: ...

    def filter_warnings(self, where: dict | None) -> list[str]: ...

    def existing_ids(self, ids: Sequence[str]) -> set[str]: ...

    def refuse_existing(self, ids: Sequence[str]) -> None: ...

    def get(self, ids: Sequence[str]) -> list[Record]: ...

    def find(self, where: dict | None = None, limit: int | None = None, offset: int = 0) -> list[Record]: ...

    def by_rowids(self, rowids: Iterable[int]) -> dict[int, Record]: ...

    def search_records(self, rowids: list[int]) -> dict[int, Record]:
        """`by_rowids` for a search: records that may decode their metadata when read."""
        ...

    def search_rows(self, rowids: list[int]) -> dict[int, tuple[str, str | None, str]]:
        """{row id: (id, text, metadata JSON text)} of the rows stored, for a plain search
        (search/plain.py decodes only what a hit needs); rows not stored are left out."""
        ...

    def rowids(self, where: dict | None = None) -> np.ndarray: ...

    def vectors(self, space: str, rowids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]: ...

    def size_bytes(self) -> int: ...

    def integrity_problems(self) -> list[str]:
        """What the backend's own structural checks find (empty: healthy)."""
        ...

    def vector_blobs(self, space: str, batch: int = 10_000) -> Iterable[list[tuple[int, bytes]]]:
        """Every stored vector of `space` as (row id, float32 bytes), in batches, unparsed."""
        ...

    def write(self, records: Sequence[Record], space: str, vectors: np.ndarray, upsert: bool,
              documents: Sequence[str] = ()) -> None: ...

    def merge_metadata(self, patches: dict[int, dict]) -> None: ...

    def delete(self, ids: Sequence[str] | None = None, where: dict | None = None) -> int: ...

    # The keyword (BM25) index, kept by the store in the same transaction as the text.
    def keyword_top_k(self, terms: list[str], k: int,
                      allow: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(row ids int64, scores float32) of the `k` best documents for tokenized `terms`
        (store/keyword_terms.py), BM25 as store/bm25.py defines it: best first, ties by row
        id, scores above 0 only, among `allow` if given."""
        ...

    def keyword_stats(self) -> dict:
        """{"docs", "tokens", "bytes"}: documents with terms, their total length, bytes on disk."""
        ...

    def rebuild_keyword(self, progress=None) -> None:
        """The keyword index built again from the documents' text, in one transaction."""
        ...

    def vacuum(self, wait: bool = True) -> bool:
        """Give the space of deleted rows back (`compact`); False if it could not run now."""
        ...

    def changed_since(self, generation: int) -> np.ndarray | None: ...

    def prune_changes(self, upto: int) -> None: ...

    def check_writable(self) -> None:
        """Refuse now (EmbkitError) if writes would be refused: before work they would waste."""

    def close(self) -> None: ...

    @property
    def location(self) -> str:
        """Where the collection lives, for people: a folder or a URL without its password."""
        ...

    # ---- moving a space to another model (maintenance/reembed.py; sqlite_reembed.py) ----

    def space_state(self) -> dict[str, dict]:
        """{"reembeds": {source: space being built}, "space_aliases": {name: space},
        "superseded": {old space: its successor}}."""
        ...

    def start_reembed(self, source: str, space: Space) -> None: ...

    def missing_vectors(self, source: str, target: str, after: int = 0,
                        limit: int = -1) -> list[tuple[int, str | None]]: ...

    def count_missing(self, source: str, target: str | None) -> int: ...

    def add_vectors(self, space: str, rows: Sequence[tuple[int, str | None]], vectors: np.ndarray) -> int: ...

    def switch_space(self, alias: str, source: str, target: str, embed) -> int: ...

    def drop_space(self, name: str) -> None: ...
