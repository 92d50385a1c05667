"""The values every store backend reads and writes: a vector space and a stored record.
Backend-neutral, so the index layer and the SQLite and PostgreSQL stores share them."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Space:
    """A named vector space: which encoder made its vectors and how they compare."""

    name: str
    model: str
    dim: int
    metric: str
    normalized: bool


@dataclass(frozen=True)
class Record:
    """A document as stored."""

    id: str
    text: str | None
    metadata: dict
    rowid: int = 0
