"""The values every store backend reads and writes: a vector space and a stored record.
Backend-neutral, so the index layer and the SQLite and PostgreSQL stores share them."""

from dataclasses import dataclass
from typing import Sequence

from ..errors import EmbkitError


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


def part_of(record_id: str, parent: object, document: str) -> bool:
    """Whether a record (its id and metadata `parent`) is part of `document`: the
    document stored whole (its own id), or one of its chunks `DOCUMENT#i` naming it as
    parent. A `parent` a client wrote on a record of another id claims nothing, so an
    upsert never sweeps away records that only say they belong to a document."""
    return record_id == document or (parent == document and record_id.startswith(f"{document}#"))


def refuse_taken_ids(asked: Sequence[str], taken: set[str], upsert: str = "upsert") -> None:
    """Raise naming how many of `asked` are `taken` (stored already) and the first in
    `asked`'s order, and how to replace them as the caller's door spells it: what an add
    (unlike an upsert) and `embkit import` refuse, in every store and door alike."""
    if taken:
        first = next(i for i in asked if i in taken)
        raise EmbkitError(f"ids: {len(taken)} already exist (first: {first!r}); use {upsert} to replace them")
