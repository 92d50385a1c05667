"""FaissIndex: the FAISS plumbing every in-process backend (flat, hnsw, ivf, ivfpq, sq8,
binary) shares; it keeps the VectorIndex protocol (protocol.py).

FAISS labels are positions (0, 1, 2, ... in insertion order); `rowids[label]` maps them to
the store's stable row ids and `live[label]` says whether that entry still counts.
Removing marks entries dead (a bitmap selector hides them from every search at once,
in every backend alike, including HNSW which cannot remove); `compact()` rebuilds
without them. An upserted document is a remove plus an add, so it gets a new label.
"""

import errno
import os
import re
from pathlib import Path

import faiss
import numpy as np

from ..errors import EmbkitError
from ..rw_lock import ReadWriteLock
from . import idmap
from .label_map import LabelMap
from .no_wait import NO_WAIT, IndexBusy
from .spec import SEARCH_PARAMS, IndexSpec, check_param

SCORE_MISSING = -np.inf
_FLOAT32 = np.dtype(np.float32)
_ptr = faiss.swig_ptr
_CHECKED: dict[tuple, dict] = {}  # (kind, search parameters) -> as checked: searches repeat them (read-only)
_ERRNO_BY_TEXT = {os.strerror(n): n for n in errno.errorcode}  # "No space left on device" -> ENOSPC


class FaissIndex:
    """A FAISS index over one vector space, keyed by store row ids (a VectorIndex)."""

    kind = "base"
    metrics: tuple[str, ...] = ("cosine", "dot", "l2")
    binary = False  # FAISS binary index (uint8 codes)
    vectors_apart = False  # True: can be saved without its float32 vectors and refilled from the store
    apart_file = ""  # with vectors_apart: the name of what the store cannot give back (`kept_apart()`)
    # set by IndexManager on the index that serves while another kind builds (an exact flat
    # stand-in, or the old index): knobs are checked for the kind being built, and those this
    # kind does not take dropped (a flat stand-in is exact anyway); None: the index chosen
    stands_in_for: str | None = None

    def __init__(self, spec: IndexSpec, dim: int, metric: str):
        if metric not in self.metrics:
            raise EmbkitError(f"metric: the {self.kind} index supports {', '.join(self.metrics)}, not {metric!r}")
        self.spec, self.dim, self.metric = spec, dim, metric
        self.params = dict(spec.params)  # effective values (e.g. nlist clamped to the data)
        self.trained_on = 0
        self._faiss = None
        self.rowids = np.empty(0, dtype=np.int64)
        self.live = np.empty(0, dtype=bool)
        self._bitmap: np.ndarray | None = None  # packed `live`, cached between changes
        self._n_live: int | None = None  # live.sum(), kept up to date: searches are hot
        self._n_live_of: np.ndarray | None = None
        self._labels = LabelMap()  # row id -> live label, for scoring chosen rows (held_rows)
        self.lock = ReadWriteLock()  # searches read together; add/remove change it alone (rw_lock)

    # ---- what backends provide ---------------------------------------------------------

    def _create(self, sample: np.ndarray):
        """A new, trained FAISS index; `sample` are vectors to train on if needed."""
        raise NotImplementedError

    def _search_parameters(self, selector, params: dict, k: int):
        return faiss.SearchParameters(sel=selector) if selector is not None else None

    def _codes(self, vectors: np.ndarray) -> np.ndarray:
        """What FAISS stores for these vectors (binary backends pack sign bits)."""
        return vectors

    def _scores(self, distances: np.ndarray) -> np.ndarray:
        """FAISS distances -> scores, higher is better."""
        if self.metric == "l2":
            return -np.sqrt(np.maximum(distances, 0))
        return distances

    # ---- the interface -----------------------------------------------------------------

    @property
    def effective_spec(self) -> str:
        """The spec with the values in force (nlist may be clamped to the data)."""
        return str(IndexSpec(self.kind, self.params))

    @property
    def ntotal(self) -> int:
        """Live entries (what a search can return)."""
        if self._n_live is None or self._n_live_of is not self.live:  # `live` was replaced (loaded)
            self._n_live, self._n_live_of = int(self.live.sum()), self.live
        return self._n_live

    @property
    def dead(self) -> int:
        return len(self.live) - self.ntotal

    def train_on(self, vectors: np.ndarray) -> None:
        """Create the FAISS index, training it (IVF, PQ, SQ) on a sample of `vectors`."""
        self._faiss = self._create(self._check(vectors, "vectors"))
        self.trained_on = len(vectors)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Append vectors under store row ids (trains first if the index is empty)."""
        ids, vectors = self._checked_rows(ids, vectors)
        if len(ids) == 0:
            return
        with self.lock.writing():
            self._add_locked(ids, vectors)

    def remove(self, ids) -> int:
        """Hide these row ids from every later search; returns how many entries."""
        hit = self._live_labels(ids)
        with self.lock.writing():
            self._remove_locked(hit)
        return len(hit)

    def replace(self, removed, ids: np.ndarray, vectors: np.ndarray) -> int:
        """`remove(removed)` then `add(ids, vectors)` as one change: a search in another
        thread sees both or neither (an upserted row, removed and added again, is never
        missing from it). Returns how many entries were hidden."""
        hit = self._live_labels(removed)
        ids, vectors = self._checked_rows(ids, vectors)
        with self.lock.writing():  # not reentrant: the unlocked halves of remove and add
            self._remove_locked(hit)
            if len(ids):
                self._add_locked(ids, vectors)
        return len(hit)

    def _checked_rows(self, ids, vectors) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(ids, dtype=np.int64)
        vectors = self._check(vectors, "vectors")
        if len(ids) != len(vectors):
            raise EmbkitError(f"ids: {len(ids)} ids for {len(vectors)} vectors")
        return ids, vectors

    def _add_locked(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if self._faiss is None:
            self.train_on(vectors)
        self._faiss.add(self._codes(vectors))
        live_before, live_array = self.ntotal, self.live
        self.rowids = np.concatenate([self.rowids, ids])
        self.live = np.concatenate([self.live, np.ones(len(ids), dtype=bool)])
        self._n_live, self._n_live_of = live_before + len(ids), self.live
        self._bitmap = None
        self._labels.added(self, ids, live_array)

    def _live_labels(self, ids) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        hit = self._labels.live_labels(self, ids)  # a few rows (a write's): looked up, not scanned for
        return np.flatnonzero(np.isin(self.rowids, ids) & self.live) if hit is None else hit

    def _remove_locked(self, hit: np.ndarray) -> None:
        live_before = self.ntotal
        self.live[hit] = False
        self._n_live = live_before - len(hit)
        self._bitmap = None
        self._labels.removed(self.rowids[hit])

    def held_rows(self, rowids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(the given row ids that are live here, their labels, a view of the float32
        vectors by label), in the given order, so `matrix[labels]` are their vectors read
        from the index's memory; None for a kind that does not keep the vectors as given
        (quantized codes, IVF lists): ask the store then. Flat and HNSW hold exactly the
        store's float32 vectors once caught up (see hnsw_storage), so scores computed
        from these equal scores from the store's. The view is valid until the next add:
        hold `lock.reading()` while it is used (dense._exact)."""
        matrix = _float_matrix(self._faiss, len(self.rowids), self.dim)
        if matrix is None:
            return None
        rowids = np.asarray(rowids, dtype=np.int64)
        labels = self._labels.of(self, rowids)
        keep = labels >= 0
        return rowids[keep], labels[keep], matrix

    def search(self, queries: np.ndarray, k: int, allow: np.ndarray | None = None,
               **params) -> tuple[np.ndarray, np.ndarray]:
        """(row ids, scores), each (n_queries, k), best first; -1 / -inf pad when fewer
        than k entries qualify. `allow` restricts to these row ids (a FAISS selector);
        `params` are per-query search parameters (ef, nprobe)."""
        queries = self._check(np.atleast_2d(queries), "queries")
        n = len(queries)
        if params:
            params = self._checked_params(params)
        if self._faiss is None or k < 1:
            return np.full((n, max(k, 0)), -1, np.int64), np.full((n, max(k, 0)), SCORE_MISSING, np.float32)
        _acquire_read(self.lock)  # no catch-up (add, remove) in another thread meanwhile
        try:
            if self.ntotal == 0:
                return np.full((n, k), -1, np.int64), np.full((n, k), SCORE_MISSING, np.float32)
            # `bitmap` must stay referenced until FAISS returns: the selector points into it
            selector, bitmap = self._selector(allow)
            search_params = self._search_parameters(selector, params, k)
            distances, labels = self._faiss.search(self._codes(queries), k, params=search_params)
            del bitmap
            rowids = self.rowids  # as FAISS's labels were: a later add replaces the array
        finally:
            self.lock.release_read()
        if labels.size and labels.min() >= 0:  # every slot filled (the common case): nothing to pad
            return rowids[labels], self._scores(distances.astype(np.float32, copy=False)).astype(np.float32, copy=False)
        found = labels >= 0
        rowids = np.where(found, rowids[np.where(found, labels, 0)], -1)
        scores = self._scores(distances.astype(np.float32, copy=False))
        scores = np.where(found, scores, SCORE_MISSING).astype(np.float32)
        return rowids, scores

    def search_one(self, query: np.ndarray, k: int, params: dict) -> tuple[list[int], list[float]]:
        """`search` of one checked float32 row (1, dim) with no filter, as Python lists
        without the pads (row ids, scores; best first): a plain search's call, spared the
        checks its request already made and the array-wide work on its ten results."""
        if params:
            params = self._checked_params(params)
        index = self._faiss
        if index is None or k < 1:
            return [], []
        # FAISS's own call (search_c) with the result arrays, without its Python wrapper's
        # checks: a float32 row held whole in memory (a raw pointer is passed); else the wrapper
        direct = (not self.binary and query.dtype is _FLOAT32 and query.flags.c_contiguous
                  and query.shape == (1, self.dim))
        lock = self.lock
        _acquire_read(lock)  # no catch-up (add, remove) in another thread meanwhile; not `with`: hot
        try:
            n_live = self.ntotal
            if n_live == 0:
                return [], []
            # dead entries (deletes) stay hidden behind a selector
            selector, bitmap = self._selector(None) if n_live != len(self.live) else (None, None)
            search_params = self._search_parameters(selector, params, k)
            if direct:
                distances, labels = np.empty((1, k), _FLOAT32), np.empty((1, k), np.int64)
                index.search_c(1, _ptr(query), k, _ptr(distances), _ptr(labels), search_params)
            else:
                distances, labels = index.search(self._codes(query), k, params=search_params)
            del bitmap
            rowids = self.rowids  # as FAISS's labels were: a later add replaces the array
        finally:
            lock.release_read()
        scores = self._scores(distances[0].astype(np.float32, copy=False)).astype(np.float32, copy=False)
        labels = labels[0]
        if -1 in labels.tolist():  # fewer than k entries qualified
            scores, labels = scores[labels >= 0], labels[labels >= 0]
        return rowids[labels].tolist(), scores.tolist()

    def _checked_params(self, params: dict) -> dict:
        if self.stands_in_for is not None:  # rare (a build runs): not cached
            # knobs this index takes are its own (a filter widens them: dense._widened); the
            # rest are checked for the kind being built, then dropped
            own = SEARCH_PARAMS.get(self.kind, ())
            _check_params(self.stands_in_for, {key: value for key, value in params.items() if key not in own})
            return _check_params(self.kind, {key: value for key, value in params.items() if key in own})
        for value in params.values():  # a loop, not all(...): a generator costs ~1 us a search
            if type(value) is not int:  # bools, floats, None: checked each time (True would find 1's entry)
                return _check_params(self.kind, params)
        key = (self.kind, *params.items())
        checked = _CHECKED.get(key)
        if checked is None:
            checked = _CHECKED[key] = _check_params(self.kind, params)
        return checked

    def _selector(self, allow: np.ndarray | None):
        """(selector, bitmap): no selector when every entry may be returned, else a
        bitmap selector over labels. FAISS keeps a raw pointer into the bitmap, so the
        caller holds it for the length of the search (per call: thread-safe)."""
        if allow is None and self.dead == 0:
            return None, None
        if allow is None:
            bitmap = self._bitmap  # read once: a change sets it to None
            if bitmap is None:
                bitmap = self._bitmap = np.packbits(self.live, bitorder="little")
        else:
            bitmap = np.packbits(self.live & _members(self.rowids, np.asarray(allow, dtype=np.int64)),
                                 bitorder="little")
        return faiss.IDSelectorBitmap(len(self.live), faiss.swig_ptr(bitmap)), bitmap

    def _check(self, vectors, field: str) -> np.ndarray:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            got = vectors.shape[1] if vectors.ndim == 2 else vectors.shape
            raise EmbkitError(f"{field}: dimension {got} does not match the index's {self.dim}")
        return vectors

    # ---- size and persistence ----------------------------------------------------------

    @property
    def nbytes(self) -> int:
        """Bytes of the FAISS index as serialized, plus the id map as stored (`idmap`)."""
        if self._faiss is None:
            return 0
        raw = faiss.serialize_index_binary(self._faiss) if self.binary else faiss.serialize_index(self._faiss)
        return int(raw.nbytes) + idmap.nbytes(self.rowids, self.live)

    def write_faiss(self, path: Path, io_flags: int = 0, buffered: bool = False) -> None:
        """Write the FAISS index to `path` (`io_flags`: FAISS's, e.g. IO_FLAG_SKIP_STORAGE).
        A failed write (a full disk) is an OSError, as for any other file, not FAISS's
        RuntimeError: callers treat it as an I/O failure. `buffered` (for files without
        the vectors, small) serializes in memory and writes from Python: FAISS only
        prints a failed close (the last buffered bytes on a full disk) to stderr."""
        try:
            if self.binary:
                faiss.write_index_binary(self._faiss, str(path))
            elif buffered:
                writer = faiss.VectorIOWriter()
                faiss.write_index(self._faiss, writer, io_flags)
                path.write_bytes(faiss.vector_to_array(writer.data).tobytes())
            else:
                faiss.write_index(self._faiss, str(path), io_flags)
        except RuntimeError as e:  # "... write error in PATH: 2262 != 9216 (No space left on device)"
            found = re.search(r"\(([^()]+)\)\s*$", str(e))
            reason = found.group(1) if found else str(e)
            raise OSError(_ERRNO_BY_TEXT.get(reason, errno.EIO), reason, str(path)) from None

    def read_faiss(self, path: Path) -> None:
        self._faiss = (faiss.read_index_binary if self.binary else faiss.read_index)(str(path))
        if self._faiss.ntotal != len(self.rowids):
            raise ValueError(f"{path}: {self._faiss.ntotal} entries, but the id map has {len(self.rowids)}")
        if self._faiss.d != self.dim:
            raise ValueError(f"{path}: dimension {self._faiss.d}, expected {self.dim}")


def _acquire_read(lock: ReadWriteLock) -> None:
    """The index's read lock; under NO_WAIT (the server's fast path, on the event loop)
    IndexBusy at once instead of waiting while a change (a catch-up's add or remove, maybe
    1,000s of rows) holds or awaits it: the caller hands the request to a path that waits."""
    if lock.acquire_read(blocking=False):  # the common case: no change under way
        return
    if NO_WAIT.get():
        raise IndexBusy("index: a change (catch-up) holds or awaits its lock")
    lock.acquire_read()


def _check_params(kind: str, params: dict) -> dict:
    """The per-query knobs checked for an index of `kind` (None values left out)."""
    unknown = set(params) - set(SEARCH_PARAMS.get(kind, ()))
    if unknown:
        allowed = ", ".join(SEARCH_PARAMS.get(kind, ())) or "none"
        raise EmbkitError(f"{sorted(unknown)[0]}: not a search parameter of the {kind} index (it takes: {allowed})")
    return {key: check_param(kind, key, value, field=key) for key, value in params.items() if value is not None}


def _float_matrix(index, n: int, dim: int) -> np.ndarray | None:
    """A (n, dim) view of the float32 vectors a flat index (or an HNSW graph's flat
    storage) holds by label; None for other kinds or a graph without its vectors."""
    if isinstance(index, faiss.IndexHNSW):
        index = faiss.downcast_index(index.storage) if index.storage is not None else None
    if type(index) not in (faiss.IndexFlat, faiss.IndexFlatIP, faiss.IndexFlatL2) or index.ntotal != n or n == 0:
        return None
    return faiss.rev_swig_ptr(index.get_xb(), n * dim).reshape(n, dim)


def _members(rowids: np.ndarray, allow: np.ndarray) -> np.ndarray:
    """For each of `rowids`, whether it is in `allow`: through a bitmap of the row ids'
    range (linear; np.isin sorts both) unless the range is far wider than the index."""
    if len(rowids) == 0:
        return np.zeros(0, dtype=bool)
    span = int(rowids.max()) + 1
    if span > 8 * len(rowids) + 1_000_000:
        return np.isin(rowids, allow)
    wanted = np.zeros(span, dtype=bool)
    wanted[allow[(allow >= 0) & (allow < span)]] = True
    return wanted[rowids]
