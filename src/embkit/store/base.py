"""The Store protocol: what a collection needs from its backend. SQLite is the
embedded default; a server database (PostgreSQL) implements the same methods later,
so neither the CLI nor the server ever knows which backend it holds."""

from pathlib import Path
from typing import Iterable, Protocol, Sequence

import numpy as np

from .sqlite import Record, Space


class Store(Protocol):
    """Documents, metadata and vectors; every write one transaction."""

    path: Path  # where the collection lives (a folder, for SQLite)

    @property
    def generation(self) -> int:
        """Counts changes to vectors and text; indexes record the one they reflect."""
        ...

    def spaces(self) -> dict[str, Space]: ...

    def meta(self, key: str) -> str | None: ...

    def count(self, where: dict | None = None) -> int: ...

    def existing_ids(self, ids: Sequence[str]) -> set[str]: ...

    def get(self, ids: Sequence[str]) -> list[Record]: ...

    def find(self, where: dict | None = None, limit: int | None = None, offset: int = 0) -> list[Record]: ...

    def by_rowids(self, rowids: Iterable[int]) -> dict[int, Record]: ...

    def rowids(self, where: dict | None = None) -> np.ndarray: ...

    def vectors(self, space: str, rowids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]: ...

    def size_bytes(self) -> int: ...

    def write(self, records: Sequence[Record], space: str, vectors: np.ndarray, upsert: bool) -> None: ...

    def delete(self, ids: Sequence[str] | None = None, where: dict | None = None) -> int: ...

    def close(self) -> None: ...
