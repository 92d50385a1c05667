"""`compact`: give back the space deleted documents left.

Deleting rows frees pages inside the database file but never shrinks it, and a vector
index only marks deleted entries dead. Compacting rebuilds a saved vector index from the
store only when its dead entries are a large share (REBUILD_DEAD_SHARE; `full` rebuilds
any that holds one): a rebuild costs as much as building the whole index (minutes for an
HNSW graph of a million), so its cost stays proportional to what it gives back. It
removes cache files nothing reads any more (the
bm25s folder of schema 2, index folders of spaces that are gone or whose files no
manifest names, projections of earlier generations) and then rewrites the store: SQLite
VACUUM at the page size its vectors want (store/sqlite_pages.py), PostgreSQL VACUUM
(FULL) of the collection's tables. Nothing stored changes: ids, vectors, text and
metadata are the same before and after, and so are search results.
"""

import re
import shutil
from pathlib import Path

from ..index import persist
from ..index.cache_files import LOCK, locked, prune
from ..index.manager import IndexManager
from ..store import Store

OLD_KEYWORD = "keyword"  # DIR/keyword/: the bm25s cache of schema 2; the keyword index now lives in the store
# A rebuild costs the whole index; the dead entries it drops cost their graph links and
# (HNSW) their saved vectors, ~1.8 kB each at 384-d, and a share of each search. Measured
# at 100k (HNSW, 384-d), 10% deleted: compact took 467 s rebuilding, 12 s keeping an index
# whose dead entries held 18 MB (9% of the folder). A search rebuilds by itself past
# manager.COMPACT_DEAD_SHARE (a quarter) anyway.
REBUILD_DEAD_SHARE = 0.2
PROJECTION = re.compile(r"^[a-z0-9_]+-g(\d+)-[0-9a-f]+\.npz$")  # analysis/coordinates.py's cache file names


def compact(store: Store, indexes: dict[str, IndexManager], full: bool = False) -> dict:
    """Compact the collection of `store` whose vector indexes (by space) are `indexes`.
    Returns {"before", "after"} (bytes on disk), "indexes" (spaces whose index was
    rebuilt without its dead entries), "kept" (the other indexes: {"space", "dead",
    "entries", "reason"}), "removed" (cache paths deleted, relative) and "backend".
    `full` rebuilds every index holding a dead entry. Refuses a read-only collection,
    and one another process has open (SQLite's VACUUM needs the only connection)."""
    store.check_writable()
    before = stored_bytes(store)
    rebuilt, kept = [], []
    for name, manager in indexes.items():
        why = _compact_index(manager, full)
        if why is None:
            rebuilt.append(name)
        else:
            kept.append({"space": name, **why})
    removed = [] if store.backend != "sqlite" else _remove_stale(store.path, set(store.spaces()), store.generation)
    store.vacuum(wait=True)
    return {"backend": store.backend, "before": before, "after": stored_bytes(store), "indexes": rebuilt,
            "kept": kept, "removed": removed}


def stored_bytes(store: Store) -> int:
    """Bytes on disk: a SQLite collection's whole folder, a PostgreSQL one's tables."""
    return folder_bytes(store.path) if store.backend == "sqlite" else store.size_bytes()


def folder_bytes(path: Path) -> int:
    """Sum of the sizes of the files under `path` (not following links)."""
    total = 0
    for p in Path(path).rglob("*"):
        try:
            if p.is_file() and not p.is_symlink():
                total += p.stat().st_size
        except OSError:  # removed meanwhile (a cache being pruned)
            continue
    return total


def _compact_index(manager, full: bool) -> dict | None:
    """Rebuild a saved in-process index whose dead entries are REBUILD_DEAD_SHARE of it
    or more (any, with `full`), after catching it up so deletions since its save count:
    None. Otherwise why it was kept: {"dead", "entries", "reason"}."""
    if not isinstance(manager, IndexManager):
        return {"dead": 0, "entries": None, "reason": "in the database: VACUUM (FULL) rewrites it with its table"}
    index = manager.current()
    dead, entries = index.dead, len(index.live)
    if index.kind == "flat":
        return {"dead": dead, "entries": entries, "reason": "flat: never saved, read from the store"}
    if dead == 0:
        return {"dead": 0, "entries": entries, "reason": "no deleted entries"}
    if not full and dead < REBUILD_DEAD_SHARE * entries:
        manager.save()  # caught up: saved now, so "after" counts what it keeps (HNSW: its dead vectors)
        return {"dead": dead, "entries": entries,
                "reason": f"{100 * dead / entries:.0f}% of its entries deleted, under the "
                          f"{100 * REBUILD_DEAD_SHARE:.0f}% that pays for a rebuild (--full rebuilds it)"}
    manager.rebuild()
    return None


def _remove_stale(path: Path, spaces: set[str], generation: int) -> list[str]:
    """Delete the cache files nothing reads any more; their paths relative to `path`."""
    removed = []
    if (path / OLD_KEYWORD).is_dir():
        shutil.rmtree(path / OLD_KEYWORD)
        removed.append(OLD_KEYWORD)
    index_root = path / "index"
    for folder in sorted(index_root.iterdir()) if index_root.is_dir() else []:
        removed += [str(p.relative_to(path)) for p in _stale_index_files(folder, spaces)]
    projections = path / "analysis" / "projections"
    for file in sorted(projections.iterdir()) if projections.is_dir() else []:
        match = PROJECTION.match(file.name)
        if match and int(match.group(1)) != generation:  # keyed by generation: never read again
            file.unlink(missing_ok=True)
            removed.append(str(file.relative_to(path)))
    return removed


def _stale_index_files(folder: Path, spaces: set[str]) -> list[Path]:
    """Delete, and list, what an index folder holds besides its manifest's files: all of
    it when its space (before any `@dims` view suffix) is gone."""
    if not folder.is_dir():
        return []
    if folder.name.split("@")[0] not in spaces:
        shutil.rmtree(folder)
        return [folder]
    with locked(folder, exclusive=True):
        try:
            manifest = persist.read_manifest(folder)
        except persist.IndexUnreadable:
            return []  # damaged: `embkit check --repair` rebuilds it; not compact's to judge
        keep = {persist.MANIFEST, *(f["name"] for f in manifest["files"].values())} if manifest else set()
        present = [p for p in folder.iterdir() if p.name not in keep and p.name != LOCK]
        prune(folder, keep)  # a temp file whose writer is still at work stays
    return [p for p in present if not p.exists()]
