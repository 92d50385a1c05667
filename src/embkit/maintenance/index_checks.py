"""Checks of the derived files against the store: each space's saved FAISS index (and
its Matryoshka views), a PostgreSQL space's pgvector index, the keyword index. Each
check comes with the fix `--repair` runs when it fails: a rebuild from the store."""

import shutil
from pathlib import Path

import numpy as np

from ..index import persist
from ..index.manager import IndexManager
from ..search.keyword import KeywordIndex
from ..search.matryoshka import TruncatedStore
from ..store import Space, Store, bm25
from ..store.keyword_terms import tokenize
from .report import Check, Fix
from .store_checks import ids_of

Checked = list[tuple[Check, Fix | None]]
BUILD_BATCH = 10_000


def vector_index(store: Store, space: Space, manager, stored: np.ndarray | None) -> Checked:
    """The space's index (and its views): saved files intact and of this store, and
    every stored vector indexed exactly once with nothing else live beside it."""
    if not isinstance(manager, IndexManager):
        return [_pgvector(store, space, manager)]

    def rebuild() -> None:
        _clear(manager.folder)
        manager.rebuild()

    checked = _saved_faiss(store, space, manager.folder, stored, rebuild)
    for folder in sorted(manager.folder.parent.glob(f"{space.name}@*")):  # Matryoshka views: rebuilt on use
        dims = folder.name.partition("@")[2]
        if dims.isdigit():
            view = Space(folder.name, space.model, int(dims), space.metric, space.normalized)
            checked += _saved_faiss(store, view, folder, stored, lambda f=folder: _clear(f))
    return checked


def _saved_faiss(store: Store, space: Space, folder: Path, stored, fix: Fix) -> Checked:
    """The index saved in `folder` for `space` (a view's name is `text@64`): intact, and
    (`stored`: the rows with a vector in the space) holding what the store holds."""
    name = space.name
    files = f"index files:{name}"
    if folder.exists() and not folder.is_dir():
        return [(Check(files, False, f"{folder} is not a folder; --repair rebuilds it from the store", True), fix),
                _not_compared(name)]
    try:
        loaded = persist.load_current(folder, space, getattr(store, "identity", None), store=_vectors_of(store, space))
        if loaded is None:
            return [(Check(files, True, "none saved (a flat index, or not built yet): built from the store when "
                                        "needed", True), None)]
        index, manifest = loaded
    except (persist.IndexUnreadable, KeyError, TypeError) as e:
        return [(Check(files, False, f"unusable ({e}); --repair rebuilds it from the store", True), fix),
                _not_compared(name)]
    generation, current = manifest["generation"], store.generation
    if generation > current:
        return [(Check(files, False, f"saved at generation {generation}, ahead of the store's {current}: not made "
                                     "from this store; --repair rebuilds it", True), fix), _not_compared(name)]
    state = "current" if generation == current else f"stale, the store is at {current}: caught up on open"
    checked = [(Check(files, True, f"{manifest['effective']}, {index.ntotal} live entries, generation {generation} "
                                   f"({state}); sizes and CRC32s match", True), None)]
    if stored is not None:
        live = index.rowids[index.live]
        checked.append((_agrees(store, f"index:{name}", live, stored, generation, "stored vectors"), fix))
    return checked


def _vectors_of(store: Store, space: Space):
    """What gives back the vectors an index saved without them (HNSW) is refilled from:
    the store, or for a Matryoshka view (`text@64`) the store as the view sees it."""
    name, _, dims = space.name.partition("@")
    if not dims or name not in store.spaces():
        return store
    return TruncatedStore(store, store.spaces()[name], int(dims))


def _not_compared(name: str) -> tuple[Check, None]:
    """An index with no usable saved state is rebuilt from the store when opened, so
    what a search would use agrees with the store; the files check says what is wrong."""
    return Check(f"index:{name}", True, "not compared: no usable saved index (the one in use is built from the "
                                        "store)", True), None


def _agrees(store: Store, name: str, held: np.ndarray, expected: np.ndarray, generation: int, what: str) -> Check:
    """Rows a derived index holds against the rows it should hold, both as of the
    store now, leaving out rows changed since the index's generation (catching up on
    open brings those in or out)."""
    changed = store.changed_since(generation) if generation < store.generation else np.zeros(0, np.int64)
    if changed is None:
        return Check(name, True, f"not compared: stale beyond the change log (generation {generation}); rebuilt "
                                 "on open", True)
    unique, counts = np.unique(held, return_counts=True)
    got, wanted = np.setdiff1d(unique, changed), np.setdiff1d(expected, changed)
    problems = [f"{len(rows)} {text} ({ids_of(store, rows)})" for rows, text in (
        (unique[counts > 1], "rows indexed more than once"), (np.setdiff1d(wanted, got), f"{what} missing from it"),
        (np.setdiff1d(got, wanted), "rows in it that the store does not hold")) if len(rows)]
    if problems:
        return Check(name, False, "; ".join(problems) + "; --repair rebuilds it from the store", True)
    caught_up = f", {len(changed)} changed since are caught up on use" if len(changed) else ""
    return Check(name, True, f"{len(got)} rows, each once, as the store holds them{caught_up}", True)


def _pgvector(store: Store, space: Space, manager) -> tuple[Check, Fix | None]:
    """PostgreSQL keeps the pgvector index in step in every transaction; it can only be
    missing (dropped by hand)."""
    spec, name = manager.configured(), f"index:{space.name}"
    if spec.kind == "flat":
        return Check(name, True, "pgvector: none configured (exact scans)", True), None
    size = manager.index_bytes()
    if size == 0:
        return (Check(name, False, f"pgvector {spec} is configured but the index is missing; --repair creates it",
                      True), lambda: manager.build(str(spec)))
    return Check(name, True, f"pgvector {spec}, {size} bytes, kept current by PostgreSQL", True), None


def keyword_index(store: Store, keyword: KeywordIndex) -> tuple[Check, Fix]:
    """The store's keyword index holds exactly the documents whose text has terms, with
    their lengths: its totals agree with the text tokenized again."""
    name = "keyword index"
    stats = store.keyword_stats()
    docs, tokens = _terms_totals(store)
    if (stats["docs"], stats["tokens"]) != (docs, tokens):
        return (Check(name, False, f"holds {stats['docs']} documents of {stats['tokens']} terms, the store's text "
                                   f"{docs} of {tokens}; --repair rebuilds it from the store", True), keyword.rebuild)
    return Check(name, True, f"in the store, current: {docs} documents, {tokens} terms", True), keyword.rebuild


def _terms_totals(store: Store) -> tuple[int, int]:
    """(documents whose text has at least one term, their total length), as BM25 counts them."""
    rowids, docs, tokens = np.sort(store.rowids()), 0, 0
    for start in range(0, len(rowids), BUILD_BATCH):
        records = store.by_rowids(rowids[start:start + BUILD_BATCH].tolist())
        for terms in tokenize([r.text for r in records.values() if r.text]):
            if terms:
                docs, tokens = docs + 1, tokens + min(len(terms), bm25.MAX_COUNT)
    return docs, tokens


def _clear(folder: Path) -> None:
    """Remove a derived folder (or a file where it should be), before a rebuild."""
    if folder.is_dir() and not folder.is_symlink():
        shutil.rmtree(folder)
    elif folder.exists() or folder.is_symlink():
        folder.unlink()
