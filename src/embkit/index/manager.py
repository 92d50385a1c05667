"""The life of one vector space's index: choose, build, catch up, persist, rebuild.

The store is the source of truth; the index is a cache stamped with the store
generation it reflects. Before a search it catches up through the store's change log
(new vectors added, deleted or replaced ones hidden at once); it is rebuilt when its
files are missing or unreadable, when the log no longer reaches back, when `auto`
would now choose another kind, when a quarter of its entries are dead (compaction), or
when an IVF/PQ index holds four times the vectors it was trained on (retraining).

A search never waits for a big rebuild: from BACKGROUND_FROM vectors up, the index is
built in a thread while searches run exactly (a flat index over the same vectors, or
the old index while it is still correct); the new index is adopted, and caught up, by
the first search after it is ready. `refresh_index`, `build_index` and closing wait.
"""

import sqlite3
import threading
import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import Callable

from ..store import Space, Store
from . import persist
from .build_threads import building
from .faiss_base import FaissIndex
from .no_wait import NO_WAIT, IndexBusy
from .spec import IndexSpec, bytes_per_vector, parse_size, parse_spec, resolve_auto

Progress = Callable[[int], None]
BUILD_CHUNK = 10_000
COMPACT_DEAD_SHARE = 0.25
RETRAIN_GROWTH = 4
BACKGROUND_FROM = 50_000
PARALLEL_CATCH_UP = 1_000  # rows from which a catch-up runs FAISS on every core


class _Build:
    """One index being built in a thread from a snapshot of the store."""

    def __init__(self, index: FaissIndex, rowids, vectors, generation: int):
        self.index, self.generation, self.error = index, generation, None
        self.thread = threading.Thread(target=self._run, args=(rowids, vectors), daemon=True,
                                       name="embkit-index-build")
        self.thread.start()

    def _run(self, rowids, vectors) -> None:
        try:
            _fill(self.index, rowids, vectors, None)
        except BaseException as e:  # re-raised in the thread that adopts the build
            self.error = e


class IndexManager:
    """Keeps `space`'s index in step with `store`; files live in `folder`."""

    def __init__(self, store: Store, space: Space, folder: Path):
        self.store, self.space, self.folder = store, space, folder
        self.index: FaissIndex | None = None
        self.generation = -1  # store generation the in-memory index reflects
        self.dirty = False  # changed since last saved
        self._prune_pending = False  # a flat index saved on a search's way left the change log to closing
        self._building: _Build | None = None
        self._stopgap = False  # `index` is a flat stand-in while (or since) a build failed to finish
        self._lock = threading.RLock()  # searches in several threads share one index

    # ---- configuration ---------------------------------------------------------------

    @property
    def _spec_key(self) -> str:
        return f"index_spec:{self.space.name}"

    @property
    def _budget_key(self) -> str:
        return f"index_budget:{self.space.name}"

    def configured(self) -> tuple[str, int | None]:
        """(spec text, memory budget in bytes) as the user set them; default `auto`."""
        budget = self.store.meta(self._budget_key)
        return self.store.meta(self._spec_key) or "auto", int(budget) if budget else None

    def target(self, count: int, spec: IndexSpec | None = None, budget: int | None = None) -> IndexSpec:
        """The spec to build for `count` vectors (`auto` resolved); the configured one
        unless `spec` is given."""
        if spec is None:
            text, budget = self.configured()
            spec = parse_spec(text)
        return resolve_auto(count, self.space.dim, budget) if spec.kind == "auto" else spec

    # ---- building and keeping current --------------------------------------------------

    def build(self, spec: str = "auto", memory_budget=None, progress: Progress | None = None) -> FaissIndex:
        """Set the spec (and budget) and build the index from the store now."""
        parsed = parse_spec(spec)
        budget = parse_size(memory_budget)
        with self._lock:
            self._adopt(wait=True)
            self._building = None
            index = self._rebuild(progress, parsed, budget)  # a spec that cannot serve fails here, changing nothing
        self.store.set_meta(self._spec_key, str(parsed))
        self.store.set_meta(self._budget_key, str(budget) if budget else None)
        return index

    def current(self, progress: Progress | None = None, wait: bool = True) -> FaissIndex:
        """The index, caught up with the store (loaded, updated or rebuilt as needed).
        With `wait=False` a big rebuild goes to a thread and an exact index serves now.
        Where NO_WAIT is on (no_wait.py), the index only if it is ready this instant."""
        if NO_WAIT.get():
            index = self.current_if_ready()
            if index is None:
                raise IndexBusy(f"index of space {self.space.name!r} is not ready this instant")
            return index
        with self._lock:
            return self._current(progress, wait)

    def current_if_ready(self) -> FaissIndex | None:
        """The index if a search can use it now without waiting: the lock is free (no
        catch-up or build in another thread) and the index is `ready`; else None."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            return self.index if self.ready() else None
        finally:
            self._lock.release()

    @property
    def building(self) -> bool:
        return self._building is not None

    def ready(self) -> bool:
        """True when a search can start at once: the index is loaded, whole (no build
        running or failed) and reflects every write, so it does no catch-up work."""
        return (self.index is not None and self._building is None and not self._stopgap
                and self.generation == self.store.generation)

    def _current(self, progress: Progress | None, wait: bool) -> FaissIndex:
        self._adopt(wait)
        if self.index is None:
            self.index = self._load()
        if self.index is None or (self._stopgap and self._building is None):  # none, or its build failed
            return self._rebuild(progress, background=not wait)
        with self.store.settled():  # what is read is committed (SQLite: one snapshot; writes carry on)
            generation = self.store.generation
            if self.generation == generation:  # the common case: nothing to do
                return self.index
            changed = self.store.changed_since(self.generation)
            rebuild = changed is None or (not wait and self._building is None and self._catch_up_is_a_rebuild(changed))
            if not rebuild:
                found, vectors = self.store.vectors(self.space.name, changed)
        if rebuild:
            return self._rebuild(progress, background=not wait)
        # the rows were read first: searches in other
        # threads wait only for the index's own change (FaissIndex.lock), removes and adds as
        # one (an upserted row is never missing); a big catch-up (a bulk add) goes into the
        # graph on every core too; a few rows stay on this thread (an OpenMP team per small
        # add costs more than it saves)
        with building() if len(found) >= PARALLEL_CATCH_UP else nullcontext():
            self.index.replace(changed, found, vectors)
        if progress and len(found):
            progress(len(found))
        self.generation, self.dirty = generation, True
        if self._building is None and self._worn_out(self.index):
            return self._rebuild(progress, background=not wait)
        return self.index

    def _catch_up_is_a_rebuild(self, changed) -> bool:
        """Many changes, more than the index holds (say, a spec set on an empty
        collection, then a bulk load): build anew in the background instead."""
        return len(changed) >= BACKGROUND_FROM and len(changed) > self.index.ntotal

    def _worn_out(self, index: FaissIndex) -> bool:
        if self.target(index.ntotal).kind != index.kind:  # `auto` crossed a threshold
            return True
        entries = len(index.live)
        if entries > 1000 and index.dead > COMPACT_DEAD_SHARE * entries:
            return True
        return index.kind in ("ivf", "ivfpq") and index.ntotal > RETRAIN_GROWTH * max(index.trained_on, 1)

    def _rebuild(self, progress: Progress | None, spec: IndexSpec | None = None,
                 budget: int | None = None, background: bool = False) -> FaissIndex:
        from . import make_index

        with self.store.settled():
            generation = self.store.generation
            rowids, vectors = self.store.vectors(self.space.name)
        index = make_index(self.target(len(rowids), spec, budget), self.space.dim, self.space.metric)
        if background and len(rowids) >= BACKGROUND_FROM and index.kind != "flat":
            self._building = _Build(index, rowids, vectors, generation)
            if self.index is None or self.generation != generation:  # the old index (if any) is behind
                self.index = make_index(IndexSpec("flat", {}), self.space.dim, self.space.metric)
                _fill(self.index, rowids, vectors, None)
                self.generation, self.dirty, self._stopgap = generation, False, True  # never saved
            self.index.stands_in_for = index.kind  # knobs for the index being built are not refused
            return self.index
        _fill(index, rowids, vectors, progress)
        self.index, self.generation, self.dirty, self._stopgap = index, generation, True, False
        self._save_or_warn()
        return index

    def _adopt(self, wait: bool) -> None:
        """Take over a background build once it is done (with `wait`, once it is)."""
        build = self._building
        if build is None or (build.thread.is_alive() and not wait):
            return
        build.thread.join()
        self._building = None
        if build.error is not None:
            if not self._stopgap:  # the old index serves on as what it is (a stand-in is rebuilt)
                self.index.stands_in_for = None
            raise build.error
        self.index, self.generation, self.dirty, self._stopgap = build.index, build.generation, True, False
        self._save_or_warn()

    def wait(self) -> None:
        """Finish a background build, if one runs."""
        with self._lock:
            self._adopt(wait=True)

    def rebuild(self, progress: Progress | None = None) -> FaissIndex:
        """Build the configured index from the store now and save it, whatever the saved
        one holds (`embkit check --repair`: files that are damaged or disagree with the store)."""
        with self._lock:
            self._building = None  # a build from an earlier snapshot is not wanted any more
            return self._rebuild(progress)

    # ---- persistence -------------------------------------------------------------------

    def save(self) -> None:
        """Write the index if it changed (after any background build: a stopgap must
        not prune the change log the new index catches up from). Flat indexes are not
        written: reading the store's vectors costs the same as reading a copy of them."""
        with self._lock:
            self._adopt(wait=True)
            self._save(prune_flat=True)

    def _save(self, prune_flat: bool = False) -> None:
        """`prune_flat`: a flat index also prunes the change log, which waits for the
        write lock, so only an explicit save (closing) does it, never a search."""
        if self.index is None or not (self.dirty or (prune_flat and self._prune_pending)):
            return
        if self.index.kind != "flat" and self.index._faiss is not None:
            persist.save(self.index, self.folder, self.generation, self.space.name, self.store.identity,
                         newest=self.store.generation, vectors_in_store=True)  # built from the store's vectors
            self.store.prune_changes(self.generation)
        else:
            if (self.folder / persist.MANIFEST).exists():
                (self.folder / persist.MANIFEST).unlink()  # an older non-flat state is no longer wanted
            if not self._stopgap and self._building is None:
                if prune_flat:
                    self.store.prune_changes(self._flat_prunes_to())
                self._prune_pending = not prune_flat
        self.dirty = False

    def _flat_prunes_to(self) -> int:
        """How far a flat index (never saved: it needs no change log to load) may prune the
        log: up to its generation, but not past any saved index of another space or view
        (they catch up from it). Without this a collection under `auto`'s HNSW threshold
        kept a log row per written document forever (10.6 bytes a document at 10k)."""
        upto = self.generation
        root = self.folder.parent
        for folder in root.iterdir() if root.is_dir() else []:
            if folder == self.folder or not folder.is_dir():
                continue
            try:
                manifest = persist.read_manifest(folder)
            except persist.IndexUnreadable:
                continue  # rebuilt when next used: it needs no log
            if manifest is not None and isinstance(manifest.get("generation"), int):
                upto = min(upto, manifest["generation"])
        return upto

    def _save_or_warn(self) -> None:
        """Save after a build on the way to a search: a folder that cannot be written
        (full disk, read-only) must not fail the search. The index stays dirty, so
        closing tries again."""
        try:
            self._save()
        except (OSError, sqlite3.Error) as e:  # sqlite3: pruning the change log on a locked or full database
            warnings.warn(f"index at {self.folder} could not be saved ({e}); it serves from memory", stacklevel=4)

    def _load(self) -> FaissIndex | None:
        try:
            loaded = persist.load_current(self.folder, self.space, self.store.identity, self.store.generation,
                                          store=self.store)
        except persist.IndexUnreadable as e:
            warnings.warn(f"index at {self.folder} is unusable ({e}); rebuilding it from the store", stacklevel=3)
            return None
        if loaded is None:
            return None
        index, manifest = loaded
        self.generation, self.dirty = manifest["generation"], False
        return index

    def info(self) -> dict:
        """What the index is and whether it reflects the store, without loading it."""
        text, budget = self.configured()
        count = self.store.count()
        try:
            manifest = persist.read_manifest(self.folder)
        except persist.IndexUnreadable:
            manifest = None
        target = self.target(count)
        if self.index is not None:
            index = self.index
            saved = {"effective": index.effective_spec, "kind": index.kind, "params": index.params,
                     "count": index.ntotal, "dead": index.dead, "generation": self.generation,
                     "trained_on": index.trained_on}
        elif manifest is not None:
            saved = {key: manifest[key]
                     for key in ("effective", "kind", "params", "count", "dead", "generation", "trained_on")}
        else:
            saved = None
        generation = self.store.generation
        if target.kind == "flat":
            current = True  # built from the store whenever it is needed
        else:
            current = saved is not None and saved["generation"] == generation and saved["kind"] == target.kind
        size = sum(f["bytes"] for f in manifest["files"].values()) if manifest else 0
        return {"configured": text, "building": self.building, "memory_budget": budget, "kind": target.kind,
                "spec": saved["effective"] if saved and saved["kind"] == target.kind else str(target),
                "params": saved["params"] if saved and saved["kind"] == target.kind else target.params,
                "current": current, "bytes": size or int(bytes_per_vector(target, self.space.dim) * count),
                "persisted": manifest is not None, "dead": saved["dead"] if saved else 0,
                "generation": saved["generation"] if saved else None}



def _fill(index: FaissIndex, rowids, vectors, progress: Progress | None) -> None:
    """Train `index` on `vectors` and add them in chunks, on every core (build_threads)."""
    if not len(rowids):
        return
    with building():
        index.train_on(vectors)  # IVF/PQ/SQ learn from (a sample of) all the data
        for start in range(0, len(rowids), BUILD_CHUNK):
            index.add(rowids[start:start + BUILD_CHUNK], vectors[start:start + BUILD_CHUNK])
            if progress and index.kind != "flat":  # flat is only a read of the store: no bar
                progress(len(rowids[start:start + BUILD_CHUNK]))
