"""What the analysis verbs share: a slice of the collection (refusing an empty one
with a reason), neighbours through the index, and the unit-length check."""

import json
from contextlib import nullcontext
from typing import Any

import numpy as np

from ..errors import EmbkitError
from ..search.exact import top_k

BATCH = 4096  # queries per index call: bounds the (batch, k) result arrays
EXACT_CELLS = 1 << 24  # scores per brute-force batch (64 MB of float32)
UNIT_TOLERANCE = 1e-3  # |norm - 1| under this counts as a unit vector


class ChangedMeanwhile(EmbkitError):
    """A write landed between reading the rows and storing (or deleting) what was
    computed from them: a server's route computes outside the collection's lock."""


def slice_table(col, where: dict | None, field: str = "where", name: str = "the collection"):
    """`col.table(where)`, refusing an empty result with an error that says why: an
    empty collection, a filter nothing matches, or a filter on a field no document has."""
    table = col.table(where)
    if not len(table):
        raise no_documents(col, where, field, name)
    return table


def no_documents(col, where: dict | None, field: str = "where", name: str = "the collection") -> EmbkitError:
    """The error for an empty collection or slice, naming a filtered field that no
    document has (the likely typo), if there is one."""
    if where is None:
        return EmbkitError(f"{field}: {name} holds no documents")
    missing = [f for f in _fields(where) if not any(_has_field(d.metadata, f) for d in col.get())]
    detail = f"; no document has the field {', '.join(map(repr, missing))}" if missing else ""
    return EmbkitError(f"{field}: {json.dumps(where)} matches no documents in {name}{detail}")


def held(reading):
    """`reading()`, a server's lock held for one step of an analysis; no lock when None
    (the Python door, or the server's lock already held around the whole call)."""
    return reading() if reading is not None else nullcontext()


def nearest(
    col, table, rows: np.ndarray, width: int, reading=None, generation: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(row ids, scores), each (len(rows), width), of the nearest documents of the
    slice to the slice's documents at `rows`, through the index in one batch. Rows an
    approximate index left short (a graph under a tight filter) are redone exactly.
    Documents of several chunks (analysis/units.py) have vectors no index holds: they
    are searched exactly, their first rows standing for them as row ids.
    With `reading` (a server's read lock, held for this batch only, the table read
    earlier at `generation`), the index search is allowed only the table's rows; once
    a write has moved the generation, the index no longer holds the rows as read (a
    row deleted since is gone from it), so the batch is searched exactly over the
    table's vectors: every batch then describes the same rows."""
    if not getattr(table, "single", True):
        return _exact(table, rows, width, col.space.metric)
    with held(reading):
        moved = generation is not None and col.generation != generation
        if not moved:
            allow = None if reading is None and len(table) == col.count() else table.rowids
            rowids, scores = col.knn(table.vectors[rows], width, allow=allow)
    if moved:
        return _exact(table, rows, width, col.space.metric)
    short = np.flatnonzero((rowids < 0).any(axis=1))
    if len(short):
        found, exact = top_k(table.vectors[rows[short]], table.vectors, width, col.space.metric)
        rowids[short], scores[short] = table.rowids[found], exact
    return rowids, scores


def _exact(table, rows: np.ndarray, width: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """`nearest` by brute force over the table's own vectors, in query batches that
    keep each (batch, n) score matrix near EXACT_CELLS floats."""
    step = max(1, EXACT_CELLS // max(len(table), 1))
    found, scores = [], []
    for start in range(0, len(rows), step):
        positions, best = top_k(table.vectors[rows[start : start + step]], table.vectors, width, metric)
        found.append(table.rowids[positions])
        scores.append(best)
    return np.concatenate(found), np.concatenate(scores)


def is_unit(vectors: np.ndarray) -> bool:
    """Every row of unit length, checked in slices of BATCH rows (no full-size temporary)."""
    for start in range(0, len(vectors), BATCH):
        rows = vectors[start : start + BATCH]
        if not np.all(np.abs(np.sqrt(np.einsum("ij,ij->i", rows, rows)) - 1.0) < UNIT_TOLERANCE):
            return False
    return True


def _fields(where: dict) -> list[str]:
    """The field names a `where` filter mentions (operators skipped)."""
    found = []
    for key, value in where.items():
        if key in ("$and", "$or"):
            for sub in value:
                found += [f for f in _fields(sub) if f not in found]
        elif key not in found:
            found.append(key)
    return found


def _has_field(metadata: dict, field: str) -> bool:
    node: Any = metadata
    for part in field.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True
