"""Group a collection's documents by meaning and store the groups as metadata.

k-means runs in FAISS (spherical for cosine spaces, so centroids stay unit length);
with k="auto" it tries k = 2..min(30, √n) on a sample of at most `sample` points and
keeps the k of the best silhouette. HDBSCAN (scikit-learn) finds the number of
clusters itself and leaves documents that fit none as noise, labelled -1; its cost
grows with the square of the points, so above `HDBSCAN_MAX` it clusters a sample and
the rest follow their nearest sampled neighbour (the notes say so). Clusters
are numbered by size (0 is the largest), described by their c-TF-IDF terms and the
document nearest their centroid, and stored in one metadata field, so
`where={"cluster": 3}` selects one. The descriptions go to
`analysis/<field>.json`, where maps find them to label clusters.

A field holds one clustering: documents outside a `where` slice lose the field, so
labels from an earlier run never mix with this run's descriptions.

By default the units are documents (one vector per document, analysis/units.py):
each document gets one label, written to every one of its chunks, and sizes count
documents. `unit="chunk"` clusters the chunks one by one.
"""

import json
import re
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field as dc_field

import numpy as np

from ..atomic import atomic_write
from ..errors import EmbkitError
from ..ingest.records import PLACE_FIELDS, document_of
from .common import ChangedMeanwhile
from .coordinates import Stage, _tell, check_pca_dims, check_seed, pca_reduce
from .terms import top_terms
from .units import DocumentTable, check_unit, full_texts, unit_table

METHODS = ("kmeans", "hdbscan")
MAX_AUTO_K = 30
MIN_DOCUMENTS = 3
HDBSCAN_MAX = 20_000  # scikit-learn's HDBSCAN is quadratic: 20,000 points (50-d) take ~30 s on 2 cores
_FIELD = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")  # no dots: "a.b" in a where filter means nested fields


@dataclass
class Cluster:
    """One cluster: its label, size, distinctive terms and most central document."""

    id: int
    size: int
    terms: list[str]
    representative: str  # the id of the document nearest the centroid
    snippet: str  # the start of that document's text


@dataclass
class Clustering:
    """What `cluster` did: labels per id, clusters (largest first, noise last), and how."""

    field: str
    method: str
    k: int  # clusters found; HDBSCAN's noise (-1) is not one
    documents: int
    labels: dict[str, int]
    clusters: list[Cluster]
    silhouettes: dict[int, float] = dc_field(default_factory=dict)  # k -> score on the sample (k="auto")
    noise: int = 0
    notes: list[str] = dc_field(default_factory=list)
    unit: str = "document"  # what `documents`, sizes and labels count: documents or chunks

    def to_dict(self, labels: bool = False) -> dict:
        """A JSON-ready dict; the per-document labels only when asked (they can be many)."""
        out = asdict(self)
        out["silhouettes"] = {str(k): v for k, v in self.silhouettes.items()}
        if not labels:
            out.pop("labels")
        return out


def cluster(col, k: int | str = "auto", method: str = "kmeans", *, where: dict | None = None,
            field: str = "cluster", seed: int = 0, sample: int = 5_000, min_cluster_size: int | None = None,
            pca_dims: int = 50, progress: Stage | None = None, ray_address: str | None = None,
            unit: str = "document", reading=nullcontext, writing=nullcontext) -> Clustering:
    """Cluster the documents (matching `where`; chunks with `unit="chunk"`), label
    each cluster and store the assignment in metadata `field` (a document's label on
    every one of its chunks). Everything is checked before anything is written.
    With `ray_address`, k-means assigns the vectors to the trained centroids in Ray
    tasks (same labels as locally).

    `reading()` and `writing()` (a server's collection lock) are held only to read the
    rows and to store the labels: the clustering runs between them, unlocked. If a
    write moved the collection's generation meanwhile (an add, upsert or delete), the
    labels would describe rows that are no longer there as clustered: nothing is
    stored and `ChangedMeanwhile` says so (run it again)."""
    _check_options(k, method, field, sample, min_cluster_size)
    if ray_address is not None and method != "kmeans":
        raise EmbkitError(f"ray_address: only kmeans spreads its work over Ray, not {method!r}")
    check_seed(seed)
    check_pca_dims(pca_dims)
    check_unit(unit)
    with reading():
        table = unit_table(col, where, unit)
        generation = col.generation
    n = len(table)
    _check_size(k, method, n, min_cluster_size, where)
    metric = "cosine" if col.space.metric == "cosine" else "euclidean"
    notes: list[str] = []
    silhouettes: dict[int, float] = {}
    if method == "kmeans":
        if k == "auto":
            k, silhouettes = _choose_k(table.vectors, metric, seed, sample, notes, progress)
        labels = _kmeans(table.vectors, k, seed, metric == "cosine", ray_address)
        notes.append(f"FAISS k-means{' (spherical, cosine)' if metric == 'cosine' else ''}, k = {k}, seed {seed}"
                     + (f"; vectors assigned to centroids in Ray tasks ({ray_address})" if ray_address else ""))
    else:
        labels = _hdbscan(table.vectors, min_cluster_size, seed, pca_dims, notes, progress)
    labels = _by_size(labels)
    _tell(progress, "describing clusters")
    clusters = _describe(table, labels, metric)
    noise = int(np.sum(labels < 0))
    result = Clustering(field, method, sum(c.id >= 0 for c in clusters), n,
                        dict(zip(table.ids, labels.tolist())), clusters, silhouettes, noise, notes, unit)
    with writing():
        if col.generation != generation:
            raise ChangedMeanwhile(f"cluster: the collection changed while its {n} {unit}s were clustered "
                                   f"(another write landed); no labels were stored, run it again")
        _save(col, table, result, where, seed)
    return result


def _choose_k(x, metric, seed, sample, notes, progress) -> tuple[int, dict[int, float]]:
    """The k in 2..min(30, √n) whose k-means on a sample has the best silhouette."""
    from sklearn.metrics import pairwise_distances, silhouette_score

    n = len(x)
    idx = np.sort(np.random.default_rng(seed).choice(n, size=min(n, sample), replace=False))
    xs = x[idx]
    top = max(2, min(MAX_AUTO_K, int(np.sqrt(n)), len(xs) - 1))
    _tell(progress, f"choosing k in 2..{top} by silhouette on {len(xs):,} points")
    distances = pairwise_distances(xs, metric=metric).astype(np.float32)
    np.fill_diagonal(distances, 0.0)
    np.maximum(distances, 0.0, out=distances)  # rounding can leave tiny negatives
    scores = {}
    for k in range(2, top + 1):
        labels = _kmeans(xs, k, seed, metric == "cosine")
        if len(np.unique(labels)) > 1:
            scores[k] = float(silhouette_score(distances, labels, metric="precomputed"))
    if not scores:
        raise EmbkitError(f"k: the documents' vectors are too alike to split (every k in 2..{top} gave one cluster)")
    best = max(scores, key=scores.get)
    notes.append(f"k = {best} chosen by silhouette ({metric}) among k = 2..{top} on {len(xs):,} "
                 f"{'sampled ' if len(xs) < n else ''}points (score {scores[best]:.3f})")
    return best, scores


def _kmeans(x: np.ndarray, k: int, seed: int, spherical: bool, ray_address: str | None = None) -> np.ndarray:
    """FAISS k-means labels, every point used for training; k-means++ starts where
    this FAISS has them (added late 2025), random ones before. With `ray_address`, the
    final assignment runs in Ray tasks, in row blocks."""
    import faiss

    plus_plus = getattr(faiss, "ClusteringInitMethod_KMEANS_PLUS_PLUS", None)
    options = {"init_method": plus_plus} if plus_plus is not None else {}
    km = faiss.Kmeans(x.shape[1], int(k), niter=25, seed=int(seed), spherical=spherical,
                      min_points_per_centroid=1, max_points_per_centroid=max(256, len(x) // int(k) + 1), **options)
    x = np.ascontiguousarray(x, dtype=np.float32)
    km.train(x)
    if ray_address is not None:
        from ..distributed.ray_kmeans import assign_nearest

        return assign_nearest(km.centroids, x, spherical, ray_address)
    return km.index.search(x, 1)[1].ravel().astype(np.int64)


def _hdbscan(x, min_cluster_size, seed, pca_dims, notes, progress) -> np.ndarray:
    """HDBSCAN labels (-1: noise). Above `HDBSCAN_MAX` points it runs on a sample and
    every other point takes the label of its nearest sampled neighbour."""
    from sklearn.cluster import HDBSCAN

    x, note = pca_reduce(x, pca_dims, seed, "HDBSCAN", progress)
    notes += [note] if note else []
    n = len(x)
    fit = np.arange(n) if n <= HDBSCAN_MAX else np.sort(np.random.default_rng(seed).choice(n, HDBSCAN_MAX, False))
    size = min_cluster_size or min(len(fit), max(5, len(fit) // 100))
    _tell(progress, f"running HDBSCAN on {len(fit):,} points")
    fitted = HDBSCAN(min_cluster_size=size, metric="euclidean", copy=True).fit_predict(x[fit]).astype(np.int64)
    notes.append(f"HDBSCAN, min_cluster_size {size}")
    labels = fitted
    if len(fit) < n:
        labels = np.empty(n, dtype=np.int64)
        labels[fit] = fitted
        rest = np.setdiff1d(np.arange(n), fit)
        labels[rest] = fitted[_nearest(x[fit], x[rest])]
        notes.append(f"HDBSCAN ran on {len(fit):,} sampled points (its cost grows with the square of the points); "
                     f"the other {len(rest):,} took the label of their nearest sampled neighbour")
    notes.append(f"{int(np.sum(labels < 0)):,} documents fit no cluster and are labelled -1 (noise)")
    return labels


def _nearest(base: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Row in `base` nearest (L2) to each query, by exact FAISS search."""
    import faiss

    index = faiss.IndexFlatL2(base.shape[1])
    index.add(np.ascontiguousarray(base, dtype=np.float32))
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), 1)[1].ravel()


def _by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber clusters 0, 1, ... from the largest down; noise stays -1."""
    found, sizes = np.unique(labels[labels >= 0], return_counts=True)
    if not len(found):
        return labels
    remap = np.full(int(found.max()) + 1, -1, dtype=np.int64)
    remap[found[np.argsort(-sizes, kind="stable")]] = np.arange(len(found))
    return np.where(labels >= 0, remap[np.maximum(labels, 0)], -1)


def _describe(table, labels: np.ndarray, metric: str) -> list[Cluster]:
    """Each cluster's terms (from all of a document's chunks) and the member nearest
    its centroid; noise comes last."""
    terms = top_terms(full_texts(table), labels)
    ids = sorted(set(labels.tolist()), key=lambda c: (c < 0, c))
    out = []
    for c in ids:
        members = np.flatnonzero(labels == c)
        rep = int(members[central(table.vectors[members], metric)])
        out.append(Cluster(int(c), len(members), terms[c], table.ids[rep], snippet(table.texts[rep])))
    return out


def central(x: np.ndarray, metric: str) -> int:
    """Row of `x` nearest its mean (by cosine for a cosine space)."""
    centroid = x.mean(axis=0)
    if metric == "cosine":
        return int(np.argmax(x @ (centroid / max(np.linalg.norm(centroid), 1e-12))))
    return int(np.argmin(((x - centroid) ** 2).sum(axis=1)))


def snippet(text: str | None, limit: int = 160) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def descriptions_path(col, field: str):
    return col.path / "analysis" / f"{field}.json"


def _save(col, table, result: Clustering, where, seed) -> None:
    """Labels into metadata in one transaction (a document's on all its chunks, the
    field cleared on records outside the slice), then the descriptions file, written
    atomically."""
    if isinstance(table, DocumentTable):
        labels = np.array(list(result.labels.values()), dtype=np.int64)[table.owner].tolist()
        patches = {i: {result.field: label} for i, label in zip(table.chunks.ids, labels)}
    else:
        patches = {i: {result.field: label} for i, label in result.labels.items()}
    if where is not None:
        for doc in col.get():
            if doc.id in patches:
                continue
            label = result.labels.get(document_of(doc.id, doc.metadata)) if result.unit == "document" else None
            if label is not None or result.field in doc.metadata:
                patches[doc.id] = {result.field: label}
    col.merge_metadata(patches)
    info = {**result.to_dict(), "seed": seed, "where": where, "generation": col.generation}
    text = json.dumps(info, ensure_ascii=False, indent=1) + "\n"
    atomic_write(descriptions_path(col, result.field), lambda tmp: tmp.write_text(text, encoding="utf-8"))


def load_descriptions(col, field: str) -> dict[int, Cluster] | None:
    """The stored descriptions of clustering `field` (cluster id -> Cluster), or None."""
    path = descriptions_path(col, field) if _FIELD.match(field or "") else None
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path else None
        return {int(c["id"]): Cluster(**c) for c in data["clusters"]} if data else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _check_options(k, method, field, sample, min_cluster_size) -> None:
    if method not in METHODS:
        raise EmbkitError(f"method: unknown {method!r} (allowed: {', '.join(METHODS)})")
    if not isinstance(field, str) or not _FIELD.match(field):
        raise EmbkitError(f"field: expected 1 to 64 letters, digits, '_' or '-', got {field!r}")
    if field in PLACE_FIELDS:  # `parent` overwritten split every chunked document into loose chunks
        raise EmbkitError(f"field: {field!r} is where embkit keeps a chunk's place in its document "
                          f"(reserved: {', '.join(PLACE_FIELDS)}); choose another name, such as 'cluster'")
    if k != "auto" and (isinstance(k, bool) or not isinstance(k, (int, np.integer))):
        raise EmbkitError(f"k: expected 'auto' or an integer, got {k!r}")
    if method == "hdbscan" and k != "auto":
        raise EmbkitError(f"k: hdbscan finds the number of clusters itself; leave k as 'auto' (got {k!r})")
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 10:
        raise EmbkitError(f"sample: expected an integer of at least 10, got {sample!r}")
    if min_cluster_size is not None and method != "hdbscan":
        raise EmbkitError("min_cluster_size: only hdbscan takes it")
    if min_cluster_size is not None and (isinstance(min_cluster_size, bool) or not isinstance(min_cluster_size, int)
                                         or min_cluster_size < 2):
        raise EmbkitError(f"min_cluster_size: expected an integer of at least 2, got {min_cluster_size!r}")


def _check_size(k, method, n: int, min_cluster_size, where) -> None:
    what = "selection" if where is not None else "collection"
    if n < MIN_DOCUMENTS:
        raise EmbkitError(f"{'where' if where is not None else 'collection'}: clustering needs at least "
                          f"{MIN_DOCUMENTS} documents, the {what} has {n}")
    if k != "auto" and not 2 <= k <= n:
        raise EmbkitError(f"k: must be between 2 and {n} (the {what} has {n} documents), got {k}")
    if min_cluster_size is not None and min_cluster_size > min(n, HDBSCAN_MAX):
        limit = f"the {what} has {n} documents" if n <= HDBSCAN_MAX else f"HDBSCAN runs on {HDBSCAN_MAX} points"
        raise EmbkitError(f"min_cluster_size: must be at most {min(n, HDBSCAN_MAX)} ({limit}), got {min_cluster_size}")
