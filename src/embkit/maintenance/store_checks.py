"""Checks of the store, the source of truth: its own structure, the schema version,
every document's vectors. `--repair` never changes what these look at; when one fails,
its detail says what was found and what the user can do."""

from pathlib import Path

import numpy as np

from ..store import SCHEMA_VERSION, Space, Store
from ..store.integrity import sqlite_file_problems
from .report import Check

UNIT_TOLERANCE = 1e-3  # cosine vectors are normalized at write time; float32 rounding stays far below this
SHOWN = 3  # ids named in a detail line


def advice(backend: str) -> str:
    """What a user can do about a damaged store (embkit rebuilds only derived files)."""
    if backend == "postgresql":
        return "store rows are not changed by --repair: restore the collection's schema from a pg_dump"
    return ("store rows are not changed by --repair: restore a snapshot (embkit restore), re-add the documents "
            "named, or salvage rows with `sqlite3 embkit.db .recover`")


def schema(store: Store) -> Check:
    """The schema version recorded in the store is the one this embkit writes."""
    version = store.meta("schema_version")
    if version == str(SCHEMA_VERSION):
        return Check("schema", True, f"version {version}")
    return Check("schema", False, f"version {version!r}, expected {SCHEMA_VERSION}; {advice(store.backend)}")


def integrity(store: Store) -> Check:
    """SQLite: PRAGMA integrity_check and foreign_key_check. PostgreSQL: the tables are
    there and agree (PostgreSQL checks its own pages)."""
    what = "tables present, no orphan vectors" if store.backend == "postgresql" else "integrity_check and foreign keys"
    return _integrity_of(store.integrity_problems(), what, store.backend)


def file_integrity(db: Path) -> Check:
    """`integrity` of a SQLite file that embkit could not open (read-only)."""
    return _integrity_of(sqlite_file_problems(db), "integrity_check and foreign keys", "sqlite")


def _integrity_of(problems: list[str], what: str, backend: str) -> Check:
    if not problems:
        return Check("integrity", True, f"{what}: ok")
    shown = "; ".join(problems[:SHOWN]) + (f" (and {len(problems) - SHOWN} more)" if len(problems) > SHOWN else "")
    return Check("integrity", False, f"{shown}; {advice(backend)}")


def vectors(store: Store, space: Space) -> tuple[Check, np.ndarray]:
    """Every stored vector of `space` has its dimension, is finite and, for cosine, has
    unit length. Returns the check and the row ids that have a vector in the space."""
    size = space.dim * 4
    seen: list[int] = []
    wrong_size: list[int] = []
    not_finite: list[int] = []
    not_unit: list[int] = []
    for batch in store.vector_blobs(space.name):
        seen += [rowid for rowid, _ in batch]
        wrong_size += [rowid for rowid, blob in batch if len(blob) != size]
        good = [(rowid, blob) for rowid, blob in batch if len(blob) == size]
        if not good:
            continue
        rowids = np.array([rowid for rowid, _ in good], dtype=np.int64)
        matrix = np.frombuffer(b"".join(blob for _, blob in good), dtype="<f4").reshape(len(good), space.dim)
        finite = np.isfinite(matrix).all(axis=1)
        not_finite += rowids[~finite].tolist()
        if space.metric == "cosine":
            norms = np.linalg.norm(matrix[finite].astype(np.float64), axis=1)
            not_unit += rowids[finite][np.abs(norms - 1) > UNIT_TOLERANCE].tolist()
    bad = {f"not {size} bytes ({space.dim}-d)": wrong_size, "not finite": not_finite,
           f"not unit length (±{UNIT_TOLERANCE:g})": not_unit}
    name = f"vectors:{space.name}"
    found = [f"{len(rows)} {what} ({ids_of(store, rows)})" for what, rows in bad.items() if rows]
    if found:
        return Check(name, False, "; ".join(found) + f"; {advice(store.backend)}"), np.array(seen, dtype=np.int64)
    unit = ", unit length" if space.metric == "cosine" else ""
    return Check(name, True, f"{len(seen)} vectors, {space.dim}-d, finite{unit}"), np.array(seen, dtype=np.int64)


def documents(store: Store, with_vectors: np.ndarray) -> Check:
    """Every document has a vector in at least one space (else no dense search finds it)."""
    rowids = store.rowids()
    lacking = np.setdiff1d(rowids, with_vectors)
    if len(lacking):
        return Check("documents", False, f"{len(lacking)} of {len(rowids)} documents have no vector "
                                         f"({ids_of(store, lacking)}); {advice(store.backend)}")
    return Check("documents", True, f"{len(rowids)} documents, each with a vector")


def ids_of(store: Store, rowids, shown: int = SHOWN) -> str:
    """The first few row ids as people know them: document ids, or `row N` for rows the
    store does not hold."""
    rowids = [int(r) for r in rowids[:shown]]
    records = store.by_rowids(rowids)
    named = [repr(records[r].id) if r in records else f"row {r}" for r in rowids]
    return "first: " + ", ".join(named)
