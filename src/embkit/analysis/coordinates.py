"""2-D coordinates of a collection's documents (UMAP, PCA or t-SNE), cached on disk.

On a small machine UMAP and t-SNE over 384-d vectors of 100,000 documents take too
long, so above `LARGE` points the vectors are first reduced to `pca_dims` with PCA
(what t-SNE's authors recommend as well); the projection's notes say so.

A projection is cached in `analysis/projections/` under a key of the method, its
options, the store generation and the exact rows projected. The rows matter because
a metadata-only change (such as a new cluster label) does not move the generation
but can change which documents a `where` filter selects. By default there is one
point per document (analysis/units.py), cached apart from the points of chunks.
"""

import hashlib
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..atomic import atomic_write
from ..errors import EmbkitError
from ..ingest.records import documents_of
from .units import DocumentTable, check_unit, unit_table

METHODS = ("umap", "pca", "tsne")
MIN_POINTS = {"pca": 3, "tsne": 5, "umap": 10}
LARGE = 5_000  # above this many points, reduce with PCA before UMAP, t-SNE or HDBSCAN
CACHE_VERSION = 2  # 2: the unit (document or chunk) is part of the key

Stage = Callable[[str], None]  # hears what is being done, e.g. "running UMAP on 1,000 points"
Reading = Callable[[], AbstractContextManager]  # held while the collection is read (a server's read lock)


class Projection(NamedTuple):
    """Document ids and their 2-D coordinates, row for row, and what was done."""

    ids: list[str]
    xy: np.ndarray  # float32 (n, 2)
    method: str
    notes: list[str]


def project(col, method: str = "umap", *, where: dict | None = None, seed: int = 0, pca_dims: int = 50,
            unit: str = "document", progress: Stage | None = None, reading: Reading = nullcontext) -> Projection:
    """2-D coordinates of the documents (matching `where`; chunks with
    `unit="chunk"`), from the cache when the same rows were projected the same way
    at the same store generation. Only the reads happen inside `reading()` (a server's
    collection read lock): the projection itself runs on the rows read, outside it, so
    writes are not held up for minutes; it describes the collection as it was read."""
    check_method(method)
    check_seed(seed)
    check_unit(unit)
    with reading():
        rowids = col.row_ids(where)
        cached = _load(_cache_file(col, method, seed, pca_dims, rowids, unit), rowids)
        if cached is not None:
            records = col.records_at(rowids)
            rows = [records[r] for r in rowids.tolist()]
            ids = [r.id for r in rows]
            ids = documents_of(ids, [r.metadata for r in rows]) if unit == "document" else ids
            return Projection(ids, cached[0], method, cached[1])
        job = _prepared(col, unit_table(col, where, unit), method, seed, pca_dims)
    return job(progress)


def project_table(col, table, method: str, *, seed: int = 0, pca_dims: int = 50,
                  progress: Stage | None = None) -> Projection:
    """`project` for rows already loaded (`col.table(...)` or a DocumentTable):
    cached the same way, under the chunk rows the points came from."""
    return _prepared(col, table, method, seed, pca_dims)(progress)


def _prepared(col, table, method: str, seed: int, pca_dims: int) -> Callable[[Stage | None], Projection]:
    """Everything `project_table` reads from the collection, done now; what it returns
    computes (or loads) the projection from those rows alone."""
    check_method(method)
    check_seed(seed)
    check_pca_dims(pca_dims)
    n = len(table)
    if n < MIN_POINTS[method]:
        raise EmbkitError(f"where: {method} needs at least {MIN_POINTS[method]} documents, the selection has {n}")
    documents = isinstance(table, DocumentTable)
    rowids = table.chunks.rowids if documents else table.rowids
    target = _cache_file(col, method, seed, pca_dims, rowids, "document" if documents else "chunk")

    def run(progress: Stage | None) -> Projection:
        cached = _load(target, rowids)
        if cached is not None:
            return Projection(table.ids, cached[0], method, cached[1])
        xy, notes = _reduce(table.vectors, method, seed, pca_dims, progress)
        _save(target, rowids, xy, notes)
        return Projection(table.ids, xy, method, notes)

    return run


def pca_reduce(x: np.ndarray, dims: int, seed: int, before: str, progress: Stage | None = None):
    """(x reduced to `dims` with PCA, note) when it has more columns and more than
    `LARGE` rows; (x, None) otherwise."""
    if not dims or x.shape[1] <= dims or len(x) <= LARGE:
        return x, None
    from sklearn.decomposition import PCA

    note = f"reduced {x.shape[1]} → {dims} dimensions with PCA before {before} ({len(x):,} points)"
    _tell(progress, note)
    return PCA(n_components=dims, random_state=seed).fit_transform(x).astype(np.float32), note


def _reduce(x: np.ndarray, method: str, seed: int, pca_dims: int, progress: Stage | None):
    from sklearn.decomposition import PCA

    name = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}[method]
    notes = []
    if method != "pca":
        x, note = pca_reduce(x, pca_dims, seed, name, progress)
        notes += [note] if note else []
    _tell(progress, f"running {name} on {len(x):,} points")
    if method == "pca":
        xy = PCA(n_components=2, random_state=seed).fit_transform(x)
    elif method == "tsne":
        xy = _tsne(x, seed)
    else:
        xy = _umap(x, seed)
    notes.append(f"{name} to 2-D, seed {seed}")
    return np.ascontiguousarray(xy, dtype=np.float32), notes


def _tsne(x: np.ndarray, seed: int) -> np.ndarray:
    """scikit-learn's Barnes-Hut t-SNE on one OpenMP thread: on 2 cores its threads
    ran 2x slower than one (600 points: 3.5 s against 1.8 s), 15x on a busy machine."""
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    perplexity = float(min(30.0, (len(x) - 1) / 3))  # must stay below the number of points
    with threadpool_limits(limits=1, user_api="openmp"):
        return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)


def _umap(x: np.ndarray, seed: int) -> np.ndarray:
    with warnings.catch_warnings():  # "n_jobs overridden by random_state": a fixed seed runs single-threaded
        warnings.simplefilter("ignore")
        import umap

        reducer = umap.UMAP(n_components=2, n_neighbors=min(15, len(x) - 1), random_state=seed, n_jobs=1)
        return reducer.fit_transform(x)


# ---- the cache -------------------------------------------------------------------------


def _cache_file(col, method: str, seed: int, pca_dims: int, rowids: np.ndarray, unit: str) -> Path:
    generation = col.generation
    key = hashlib.sha256(f"{CACHE_VERSION}|{method}|{seed}|{pca_dims}|{LARGE}|{unit}|".encode())
    key.update(np.ascontiguousarray(rowids, dtype=np.int64).tobytes())
    return col.path / "analysis" / "projections" / f"{method}-g{generation}-{key.hexdigest()[:20]}.npz"


def _load(path: Path, rowids: np.ndarray):
    """(xy, notes) from a cache file that holds exactly these rows; None if absent or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if not np.array_equal(data["rowids"], rowids):
                return None
            return data["xy"].astype(np.float32), [*map(str, data["notes"]), "projection loaded from cache"]
    except (OSError, ValueError, KeyError, EOFError):
        return None


def _save(target: Path, rowids: np.ndarray, xy: np.ndarray, notes: list[str]) -> None:
    """Write the cache file; files of older generations can never match again: removed.
    A cache that cannot be written (a full disk, a read-only collection) is only a warning:
    the projection is answered all the same."""
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, rowids=np.asarray(rowids, dtype=np.int64), xy=xy, notes=np.array(notes, dtype=str))

    try:
        atomic_write(target, write)
    except OSError as e:
        warnings.warn(f"projection cache {target} not saved ({e}); it is computed again next time", stacklevel=3)
        return
    generation = target.name.split("-")[1]
    for old in target.parent.glob("*.npz"):
        if old.name.split("-")[1:2] != [generation]:
            old.unlink(missing_ok=True)


# ---- checks ----------------------------------------------------------------------------


def check_method(method) -> None:
    if method not in METHODS:
        raise EmbkitError(f"method: unknown {method!r} (allowed: {', '.join(METHODS)})")


def check_seed(seed) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise EmbkitError(f"seed: expected an integer between 0 and {2**31 - 1}, got {seed!r}")


def check_pca_dims(dims) -> None:
    if dims is not None and (isinstance(dims, bool) or not isinstance(dims, int) or dims < 2):
        raise EmbkitError(f"pca_dims: expected an integer of at least 2 (or None for no reduction), got {dims!r}")


def _tell(progress: Stage | None, message: str) -> None:
    if progress is not None:
        progress(message)
