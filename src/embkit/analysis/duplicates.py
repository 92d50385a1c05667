"""Near-duplicates: documents whose cosine similarity reaches a threshold, grouped
into connected components (a ~ b and b ~ c puts a, b and c in one group).

By default the units are documents (one vector per document, analysis/units.py), so
deleting a duplicate deletes a whole document, never chunks from its middle;
`unit="chunk"` compares chunks one by one.

Pairs are found through the vector index, k neighbours per document, widening k for
the documents whose k-th neighbour is still above the threshold; so every pair above
it is found (exactly with a flat index) without comparing all n² pairs."""

from contextlib import nullcontext
from typing import Any, Callable, NamedTuple

import numpy as np

from ..errors import EmbkitError
from .common import BATCH, ChangedMeanwhile, held, is_unit, nearest
from .units import check_unit, text_lengths, unit_table

KEEP = ("first", "longest")
ROUNDING = 1e-5  # float32 cosines of identical unit vectors land up to ~1e-6 under 1.0


class DuplicateGroup(NamedTuple):
    """Near-duplicate documents (or chunks), in insertion order; `pairs` are the (id,
    id, cosine) links above the threshold that joined them, most similar first;
    `lengths` the amount of text of each (a document's: all its chunks')."""

    ids: list[str]
    texts: list[str | None]  # a document's: its first chunk's
    pairs: list[tuple[str, str, float]]
    lengths: list[int]


class DedupeReport(NamedTuple):
    """What `dedupe` found and did: one kept id per group, the others to delete;
    `deleted` is how many of them were deleted (0 on a dry run) and `chunks` how many
    records that took (a document's chunks count each)."""

    groups: list[DuplicateGroup]
    keep: list[str]
    delete: list[str]
    deleted: int
    unit: str = "document"
    chunks: int = 0
    dry_run: bool = True

    def to_dict(self) -> dict:
        """JSON-ready: what the CLI's --json prints and the HTTP route answers."""
        groups = [{**g._asdict(), "keep": kept} for g, kept in zip(self.groups, self.keep)]
        return {"unit": self.unit, "groups": groups, "keep": self.keep, "delete": self.delete,
                "deleted": self.deleted, "chunks_deleted": self.chunks, "dry_run": self.dry_run}


def duplicates(col, threshold: float = 0.95, *, where: dict | None = None, k: int = 10, unit: str = "document",
               progress: Callable[[int], None] | None = None, reading=None) -> list[DuplicateGroup]:
    """Groups of documents (of the slice `where`; chunks with `unit="chunk"`) linked by
    cosine ≥ `threshold`, largest first, then in insertion order of their first member.

    Cosine collections and any collection whose vectors are all unit length (where
    l2 and dot order neighbours as cosine does) are supported; others are refused,
    since a cosine threshold says nothing about their neighbours. With `reading` (a
    server's read lock), the lock is held to read the rows and for each batch's index
    search only: the groups are of the rows as read (analysis/common.py `nearest`)."""
    threshold = check_threshold(threshold)
    check_unit(unit)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise EmbkitError(f"k: must be a positive integer, got {k!r}")
    with held(reading):
        table = unit_table(col, where, unit)
        generation = col.generation if reading is not None else None  # the rows as read: see `nearest`
    if col.space.metric != "cosine" and not is_unit(table.vectors):
        raise EmbkitError(f"threshold: a cosine threshold needs unit vectors, and this {col.space.metric!r} "
                          "collection holds vectors of other lengths; use a cosine collection")
    a, b, cos = _pairs(col, table, threshold, k, progress, reading, generation)
    return _groups(table, a, b, cos)


def dedupe(col, threshold: float = 0.95, keep: str = "first", delete: bool = False, *,
           where: dict | None = None, k: int = 10, unit: str = "document",
           progress: Callable[[int], None] | None = None, reading=None, writing=nullcontext) -> DedupeReport:
    """Near-duplicate groups and, for each, the one document (chunk, with
    `unit="chunk"`) to keep: `first` (inserted earliest) or `longest` (most text; ties
    go to the earliest). A dry run unless `delete=True`, which deletes all the others
    in one transaction: a document with all its chunks. With `reading` and `writing` (a
    server's lock), the groups are found under short read holds and the delete made
    under the write lock; if a write moved the generation in between, nothing is
    deleted (`ChangedMeanwhile`: the groups may no longer hold)."""
    if keep not in KEEP:
        raise EmbkitError(f"keep: must be one of {', '.join(KEEP)}, got {keep!r}")
    with held(reading):
        generation = col.generation
    groups = duplicates(col, threshold, where=where, k=k, unit=unit, progress=progress, reading=reading)
    kept = [_keeper(g, keep) for g in groups]
    doomed = [i for g, kept_id in zip(groups, kept) for i in g.ids if i != kept_id]
    with writing() if delete and doomed else nullcontext():  # a delete of nothing waits for no writer
        if delete and doomed and col.generation != generation:
            raise ChangedMeanwhile("dedupe: the collection changed while its duplicates were found (another "
                                   "write landed); nothing was deleted, run it again")
        gone = col.remove(doomed) if delete and doomed else None
    return DedupeReport(groups, kept, doomed, _count(gone, unit), unit, gone.chunks if gone else 0, not delete)


def _count(gone, unit: str) -> int:
    """How many units a delete removed: documents, or records for chunks."""
    if gone is None:
        return 0
    return gone.documents if unit == "document" else gone.chunks


def check_threshold(threshold: Any) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not -1.0 <= threshold <= 1.0:
        raise EmbkitError(f"threshold: must be a cosine similarity from -1 to 1, got {threshold!r}")
    return float(threshold)


def _pairs(col, table, threshold: float, k: int, progress, reading,
           generation: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions a, positions b, cosine) of every pair a < b with cosine ≥ threshold
    (less float32 rounding, so threshold 1 finds exact copies), each pair once."""
    n = len(table)
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for start in range(0, n, BATCH):
        todo, width = np.arange(start, min(start + BATCH, n)), min(k + 1, n)
        while len(todo):
            rowids, scores = nearest(col, table, todo, width, reading, generation)
            cos = _cosine(scores, col.space.metric)
            hit = cos >= threshold - ROUNDING
            rows, cols = np.nonzero(hit)
            found.append((todo[rows], np.searchsorted(table.rowids, rowids[rows, cols]), cos[rows, cols]))
            if width >= n:
                break
            todo, width = todo[hit[:, -1]], min(2 * width, n)  # the k-th still qualifies: there may be more
        if progress is not None:
            progress(min(start + BATCH, n) - start)
    a, b, cos = (np.concatenate(x) for x in zip(*found))
    keep = a != b
    lo, hi, cos = np.minimum(a, b)[keep], np.maximum(a, b)[keep], cos[keep]
    order = np.lexsort((-cos, hi, lo))  # each pair once, though usually found from both ends
    lo, hi, cos = lo[order], hi[order], cos[order]
    first = np.ones(len(lo), dtype=bool)
    first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    return lo[first], hi[first], cos[first]


def _cosine(scores: np.ndarray, metric: str) -> np.ndarray:
    """Index scores of unit vectors as cosines: ‖a − b‖² = 2 − 2 cos for l2."""
    if metric == "l2":
        return 1.0 - scores.astype(np.float64) ** 2 / 2.0
    return scores.astype(np.float64)


def _groups(table, a: np.ndarray, b: np.ndarray, cos: np.ndarray) -> list[DuplicateGroup]:
    """Connected components of the pairs, as groups of more than one member."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(table)
    if len(a) == 0:
        return []
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels)
    members: dict[int, list[int]] = {}
    for position in np.flatnonzero(sizes[labels] > 1):  # ascending: insertion order within a group
        members.setdefault(int(labels[position]), []).append(int(position))
    links: dict[int, list[tuple[str, str, float]]] = {}
    for i in np.argsort(-cos, kind="stable"):
        links.setdefault(int(labels[a[i]]), []).append((table.ids[a[i]], table.ids[b[i]], float(cos[i])))
    ordered = sorted(members.values(), key=lambda m: (-len(m), m[0]))
    lengths = text_lengths(table)
    return [DuplicateGroup([table.ids[p] for p in m], [table.texts[p] for p in m], links[int(labels[m[0]])],
                           [int(lengths[p]) for p in m]) for m in ordered]


def _keeper(group: DuplicateGroup, keep: str) -> str:
    if keep == "first":
        return group.ids[0]
    return group.ids[group.lengths.index(max(group.lengths))]  # index() finds the earliest of equals
