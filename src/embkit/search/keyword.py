"""The keyword (BM25) index: a cache of the store's text, like the vector index.

The store is the source of truth. The index records the store generation it was built
from; a missing, stale, corrupt or foreign one is rebuilt from the store, never
trusted. Documents without terms (no text, or only stopwords) are left out, so they
neither match nor count towards BM25's document statistics.

Layout of `DIR/keyword/`: `bm25-G/` (bm25s's own save of generation G), `rowids-G.npy`
(row id of each bm25s document, ascending) and `manifest.json`, written last and
atomically, naming those files with their sizes and CRC32s. Older generations are
removed once the manifest names the new one, so a crash leaves the old state or the new.
The manifest records the collection's identity (a copy from another collection is
rebuilt); saves take turns under the folder's lock, loads hold it shared (cache_files).
"""

import json
import shutil
import threading
import warnings
from pathlib import Path
from typing import Callable

import bm25s
import numpy as np

from .. import validate
from ..atomic import atomic_write, fsync_path
from ..index.cache_files import (
    IDENTITY,
    IndexUnreadable,
    check_identity,
    crc,
    locked,
    make_folder,
    newer_saved,
    npy,
    prune,
)
from ..store import Store
from ..store.keyword_terms import DESCRIPTION, tokenize, tokenize_terms

Progress = Callable[[int], None]
KIND = "bm25"
FORMAT = 1
MANIFEST = "manifest.json"
BUILD_BATCH = 10_000
PARAMS = {"method": "lucene", "k1": 1.5, "b": 0.75}  # bm25s's defaults: a grid on SciFact train beat them by noise
SEARCH_ATTEMPTS = 3
LOAD_ATTEMPTS = 3  # reads of a manifest that another process replaced meanwhile


class KeywordIndex:
    """BM25 over the text of `store`'s documents; files live in `folder`."""

    def __init__(self, store: Store, folder: Path):
        self.store, self.folder = store, Path(folder)
        self.retriever: bm25s.BM25 | None = None
        self.rowids = np.zeros(0, dtype=np.int64)  # bm25s document i is store row rowids[i]
        self.generation = -1  # store generation the in-memory index reflects
        self.dirty = False  # built since last saved
        self.rebuilds = 0  # how many times it was built from the store (tests and info)
        self._lock = threading.RLock()

    # ---- keeping current -------------------------------------------------------------

    def current(self, progress: Progress | None = None) -> bm25s.BM25:
        """The bm25s retriever, up to date with the store: loaded if the saved one is of
        the store's generation, else rebuilt (and saved)."""
        with self._lock:
            if self.retriever is None or self.generation != self.store.generation:
                self._load()  # another process may have saved the store's generation already
            if self.retriever is None or self.generation != self.store.generation:
                self._rebuild(progress)
            return self.retriever

    def _rebuild(self, progress: Progress | None) -> None:
        generation = self.store.generation  # read first: a write during the build leaves us stale, not wrong
        rowids = np.sort(self.store.rowids())
        kept: list[int] = []
        docs: list[list[int]] = []
        vocab: dict[str, int] = {}
        for start in range(0, len(rowids), BUILD_BATCH):
            batch = rowids[start:start + BUILD_BATCH].tolist()
            records = self.store.by_rowids(batch)
            present = [r for r in batch if r in records and records[r].text]
            for rowid, terms in zip(present, tokenize([records[r].text for r in present])):
                if terms:
                    kept.append(rowid)
                    docs.append([vocab.setdefault(t, len(vocab)) for t in terms])
            if progress:
                progress(len(batch))
        retriever = bm25s.BM25(**PARAMS)
        if docs:
            retriever.index((docs, vocab), show_progress=False)  # ids from our own vocab: batches share it
        else:
            _make_empty(retriever)
        self.retriever, self.rowids = retriever, np.asarray(kept, dtype=np.int64)
        self.generation, self.dirty = generation, True
        self.rebuilds += 1
        try:
            self._save()
        except OSError as e:  # a read-only folder still searches; the next open rebuilds
            warnings.warn(f"keyword index at {self.folder} could not be saved ({e})", stacklevel=4)

    # ---- searching -------------------------------------------------------------------

    def search(self, query: str, k: int, allow: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(row ids int64, BM25 scores float32), best first, of the `k` best documents
        with a score above 0, among the row ids in `allow` if given. A query of only
        stopwords (or of terms no document has) finds nothing."""
        validate.check_query(query)
        k = validate.check_k(k)
        terms = tokenize_terms(query)
        if not terms:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        with self._lock:
            for _ in range(SEARCH_ATTEMPTS):
                self.current()
                rowids, scores = self._top_k(terms, k, allow)
                if self.store.generation == self.generation:  # nothing was written meanwhile
                    return rowids, scores
            alive = self.store.by_rowids(rowids)  # written to all along: drop what is gone
            keep = np.array([r in alive for r in rowids.tolist()], dtype=bool)
            return rowids[keep], scores[keep]

    def _top_k(self, terms: list[str], k: int, allow: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        n, mask = len(self.rowids), None
        if allow is not None:  # weight 1 for allowed documents, 0 (score 0, dropped below) for the rest
            mask = np.isin(self.rowids, np.asarray(allow, dtype=np.int64)).astype(np.float32)
            n = int(mask.sum())
        if n == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        found, scores = self.retriever.retrieve([terms], k=min(k, n), show_progress=False, n_threads=0,
                                                weight_mask=mask)
        found, scores = found[0], np.asarray(scores[0], dtype=np.float32)
        positive = scores > 0
        rowids, scores = self.rowids[found[positive]], scores[positive]
        order = np.lexsort((rowids, -scores))  # ties by row id, so results are repeatable
        return rowids[order], scores[order]

    # ---- persistence -----------------------------------------------------------------

    def rebuild(self, progress: Progress | None = None) -> None:
        """Build from the store now and save, whatever is saved (`embkit check --repair`)."""
        with self._lock:
            self._rebuild(progress)

    def saved(self) -> tuple[dict, np.ndarray] | None:
        """(manifest, row ids) of the saved index, every file checked, without adopting
        it; None when none is saved; IndexUnreadable when it is damaged or foreign."""
        with locked(self.folder, exclusive=False):  # no save prunes the files meanwhile
            manifest = _read_manifest(self.folder, self.store.identity)
            if manifest is None:
                return None
            _, rowids = _read(self.folder, manifest, manifest["generation"])
            return manifest, np.array(rowids)

    def save(self) -> None:
        """Write the index if it was built since it was last saved."""
        with self._lock:
            self._save()

    def _save(self) -> None:
        """Processes take turns under the folder's lock; one whose index is older than
        the saved one leaves that one in place."""
        if self.retriever is None or not self.dirty:
            return
        folder, generation, identity = self.folder, self.generation, self.store.identity
        make_folder(folder)  # a stray file named `keyword` is replaced
        with locked(folder, exclusive=True):
            if not _newer_saved(folder, generation, identity, self.store.generation):
                self._write_files(folder, generation, identity)
        self.dirty = False

    def _write_files(self, folder: Path, generation: int, identity: str | None) -> None:
        sub, rowids_name = f"bm25-{generation}", f"rowids-{generation}.npy"
        # No manifest names this folder yet (or it names a damaged copy): a crash while
        # writing it leaves files that fail their CRC check, never a trusted mix.
        shutil.rmtree(folder / sub, ignore_errors=True)
        try:
            self.retriever.save(folder / sub, show_progress=False)
            for path in [*(folder / sub).iterdir(), folder / sub]:
                fsync_path(path)
            atomic_write(folder / rowids_name, lambda p: p.write_bytes(npy(self.rowids)))
        except OSError:  # a full disk: no half-written state stays behind, the manifest names the old one
            shutil.rmtree(folder / sub, ignore_errors=True)
            raise
        names = [f"{sub}/{p.name}" for p in sorted((folder / sub).iterdir())] + [rowids_name]
        manifest = {"format": FORMAT, "kind": KIND, IDENTITY: identity, "generation": generation,
                    "docs": len(self.rowids), "params": PARAMS, "tokenizer": DESCRIPTION, "dir": sub,
                    "rowids": rowids_name,
                    "files": {name: {"bytes": (folder / name).stat().st_size, "crc32": crc(folder / name)}
                              for name in names}}
        atomic_write(folder / MANIFEST, lambda p: p.write_text(json.dumps(manifest, indent=1)))
        fsync_path(folder)
        prune(folder, {MANIFEST, sub, rowids_name})  # earlier generations, and what a crash left

    def _load(self) -> None:
        """Adopt the saved index if it is this collection's, of the store's generation
        and intact. Read under the folder's shared lock, so no save prunes it meanwhile;
        if it is replaced all the same (no lock to be had), read again."""
        identity = self.store.identity
        for attempt in range(LOAD_ATTEMPTS):
            manifest = None
            try:
                with locked(self.folder, exclusive=False):
                    manifest = _read_manifest(self.folder, identity)
                    if manifest is None or manifest["generation"] < self.store.generation:
                        return  # never built, or behind the store: a plain rebuild, nothing is wrong
                    retriever, rowids = _read(self.folder, manifest, self.store.generation)
            except IndexUnreadable as e:
                if attempt < LOAD_ATTEMPTS - 1 and manifest is not None and _replaced(self.folder, manifest):
                    continue
                warnings.warn(f"keyword index at {self.folder} is unusable ({e}); rebuilding it from the store",
                              stacklevel=4)
                return
            self.retriever, self.rowids, self.generation, self.dirty = retriever, rowids, manifest["generation"], False
            return

    def info(self) -> dict:
        """What the index is and whether it reflects the store, without loading it."""
        with self._lock:
            try:
                manifest = _read_manifest(self.folder, self.store.identity)
            except IndexUnreadable:
                manifest = None
            if self.retriever is not None:
                generation, docs = self.generation, len(self.rowids)
            else:
                generation = manifest["generation"] if manifest else None
                docs = manifest["docs"] if manifest else 0
            size = sum(f["bytes"] for f in manifest["files"].values()) if manifest else 0
            return {"kind": KIND, "generation": generation, "current": generation == self.store.generation,
                    "docs": docs, "bytes": size, "persisted": manifest is not None, "params": dict(PARAMS),
                    "tokenizer": DESCRIPTION}


def _newer_saved(folder: Path, generation: int, identity: str | None, newest: int) -> bool:
    """True if the folder holds a sound manifest of this collection newer than
    `generation` (another process saved it); one ahead of the store's `newest` is not."""
    try:
        manifest = _read_manifest(folder, identity)
    except IndexUnreadable:
        return False
    return newer_saved(manifest, generation, identity, newest)


def _replaced(folder: Path, manifest: dict) -> bool:
    """True if the folder's manifest is no longer `manifest` (another process saved)."""
    try:
        return _read_manifest(folder) != manifest
    except IndexUnreadable:
        return True


def _read_manifest(folder: Path, identity: str | None = None) -> dict | None:
    """The manifest if there is one and it was written by this build settings (for the
    collection `identity`, if given); None if there is none; IndexUnreadable if it is
    damaged or foreign."""
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or type(manifest.get("generation")) is not int \
                or not isinstance(manifest.get("files"), dict):
            raise ValueError("not an embkit keyword manifest")
        generation = manifest["generation"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise IndexUnreadable(f"{path}: {e}") from None
    own = {"format": FORMAT, "kind": KIND, "params": PARAMS, "tokenizer": DESCRIPTION,
           "dir": f"bm25-{generation}", "rowids": f"rowids-{generation}.npy"}
    for key, value in own.items():
        if manifest.get(key) != value:
            raise IndexUnreadable(f"{path}: {key} is {manifest.get(key)!r}, expected {value!r}")
    check_identity(manifest, identity)
    return manifest


def _read(folder: Path, manifest: dict, generation: int) -> tuple[bm25s.BM25, np.ndarray]:
    """The retriever and row ids a manifest names, every file checked against its size
    and CRC32 first; the arrays are memory-mapped."""
    if manifest["generation"] != generation:
        raise IndexUnreadable(f"it is of generation {manifest['generation']}, the store of {generation}")
    try:
        for name, meta in manifest["files"].items():
            path = folder / name
            if not path.is_file() or path.stat().st_size != meta["bytes"] or crc(path) != meta["crc32"]:
                raise IndexUnreadable(f"{path}: missing, truncated or changed since it was written")
        rowids = np.load(folder / manifest["rowids"], allow_pickle=False)
        retriever = bm25s.BM25.load(folder / manifest["dir"], mmap=True, show_progress=False)
    except IndexUnreadable:
        raise
    except Exception as e:  # whatever numpy or bm25s make of a damaged file
        raise IndexUnreadable(f"{folder}: {type(e).__name__}: {e}") from None
    n = retriever.scores["num_docs"]
    if rowids.dtype != np.int64 or rowids.shape != (n,) or n != manifest["docs"] or np.any(np.diff(rowids) <= 0):
        raise IndexUnreadable(f"{folder}: row ids do not match the {n} indexed documents")
    return retriever, rowids


def _make_empty(retriever: bm25s.BM25) -> None:
    """An index of no documents (bm25s cannot index an empty corpus)."""
    retriever.scores = {"data": np.zeros(0, dtype=np.float32), "indices": np.zeros(0, dtype=np.int32),
                        "indptr": np.zeros(1, dtype=np.int32), "num_docs": 0}
    retriever.vocab_dict, retriever.unique_token_ids_set, retriever.nonoccurrence_array = {}, set(), None

