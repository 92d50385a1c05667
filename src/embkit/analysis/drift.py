"""Drift: has a collection (or a slice of it) moved away from another? Three views
of one question: how far the centroid turned, whether the two samples could come
from one distribution (MMD with a permutation test), and which topics (k-means
clusters over both) grew or shrank."""

from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..atomic import atomic_write
from ..errors import EmbkitError
from .common import slice_table


class ClusterShare(NamedTuple):
    """One k-means cluster over A ∪ B: the share of A and of B in it, `change` =
    share_b − share_a, and `example`, the text nearest the cluster's centre."""

    cluster: int
    share_a: float
    share_b: float
    change: float
    example: str | None


class DriftReport(NamedTuple):
    """`centroid_shift` = 1 − `centroid_cosine`; `mmd` is the unbiased MMD² with an
    RBF kernel of width `bandwidth`; `p_value` is the share of `permutations`
    relabellings of the samples (plus the observed one) with an MMD² as large;
    `null` holds their MMD² values."""

    n_a: int
    n_b: int
    centroid_cosine: float
    centroid_shift: float
    mmd: float
    p_value: float
    bandwidth: float
    permutations: int
    cluster_shares: list[ClusterShare]
    plot: str | None
    null: np.ndarray

    def to_dict(self) -> dict:
        """Everything but the null distribution, as plain JSON-ready values."""
        data = self._asdict()
        del data["null"]
        data["cluster_shares"] = [c._asdict() for c in self.cluster_shares]
        return data


def drift(col, other=None, *, where: dict | None = None, other_where: dict | None = None, clusters: int = 8,
          permutations: int = 200, sample: int = 2000, seed: int = 0, plot: str | Path | None = None) -> DriftReport:
    """Compare A = `col` (sliced by `where`) with B = `other` (sliced by `other_where`),
    or, without `other`, with `col` sliced by `other_where`. MMD and clusters use up
    to `sample` random documents of each side (fixed by `seed`); centroids use all.
    `plot` writes a PNG of the cluster shares and the permutation test."""
    _check_int(clusters, "clusters", 1, 1000)
    _check_int(permutations, "permutations", 1, 100_000)
    _check_int(sample, "sample", 2, 100_000)
    b_col = _other(col, other, other_where)
    a = _side(col, where, "where" if where is not None else "collection", "A")
    b = _side(b_col, other_where, "other_where" if other_where is not None else "other", "B")
    if clusters > len(a) + len(b):
        raise EmbkitError(f"clusters: must be at most {len(a) + len(b)} (the documents in A and B), got {clusters}")
    rng = np.random.default_rng(seed)
    x, y = (t.vectors[_sample(len(t), sample, rng)].astype(np.float64) for t in (a, b))
    observed, null, bandwidth = mmd_test(x, y, permutations, rng)
    centroid_cosine = _cosine(a.vectors.mean(axis=0, dtype=np.float64), b.vectors.mean(axis=0, dtype=np.float64))
    shares = cluster_shares(a, b, clusters, seed, col.space.metric == "cosine")
    p_value = (1 + int((null >= observed).sum())) / (1 + permutations)
    report = DriftReport(len(a), len(b), centroid_cosine, 1.0 - centroid_cosine, observed, p_value, bandwidth,
                         permutations, shares, str(plot) if plot is not None else None, null)
    if plot is not None:
        write_plot(report, Path(plot))
    return report


def mmd_test(x: np.ndarray, y: np.ndarray, permutations: int, rng) -> tuple[float, np.ndarray, float]:
    """(observed unbiased MMD², MMD² of each random relabelling, RBF bandwidth).
    The kernel is computed once over x ∪ y; each relabelling costs a matrix product."""
    z = np.concatenate([x, y])
    kernel, bandwidth = rbf_kernel(z)
    n, n_a = len(z), len(x)
    labels = np.zeros((n, permutations + 1))
    labels[:n_a, 0] = 1.0
    for p in range(1, permutations + 1):
        labels[rng.permutation(n)[:n_a], p] = 1.0
    mmd = _mmd2_from_labels(kernel, labels, n_a, n - n_a)
    return float(mmd[0]), mmd[1:], bandwidth


def rbf_kernel(z: np.ndarray) -> tuple[np.ndarray, float]:
    """exp(−‖a − b‖² / (2σ²)) over the rows of z, σ the median pairwise distance
    (the median heuristic; 1 if every row is the same)."""
    sq = (z * z).sum(axis=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (z @ z.T)
    np.maximum(d2, 0.0, out=d2)
    np.fill_diagonal(d2, 0.0)
    upper = d2[np.triu_indices(len(z), k=1)]
    sigma = float(np.sqrt(np.median(upper))) if len(upper) else 0.0
    sigma = sigma if sigma > 0 else 1.0
    d2 *= -1.0 / (2.0 * sigma * sigma)
    return np.exp(d2, out=d2), sigma


def _mmd2_from_labels(kernel: np.ndarray, labels: np.ndarray, n_a: int, n_b: int) -> np.ndarray:
    """Unbiased MMD² for each labelling (a column of 1s for A, 0s for B), with sums
    over kernel blocks written as s'Ks: within A, s'Ks − n_a (the unit diagonal);
    within B, 1'K1 − 2·1'Ks + s'Ks − n_b; across, 1'Ks − s'Ks."""
    ks = kernel @ labels
    within_a = (labels * ks).sum(axis=0)
    to_all = ks.sum(axis=0)
    within_b = kernel.sum() - 2.0 * to_all + within_a
    across = to_all - within_a
    return ((within_a - n_a) / (n_a * (n_a - 1)) + (within_b - n_b) / (n_b * (n_b - 1))
            - 2.0 * across / (n_a * n_b))


def cluster_shares(a, b, clusters: int, seed: int, spherical: bool) -> list[ClusterShare]:
    """k-means (FAISS) over A ∪ B; each side's share of documents in each cluster."""
    import faiss

    z = np.ascontiguousarray(np.concatenate([a.vectors, b.vectors]), dtype=np.float32)
    # min_points_per_centroid=1: a small slice is fine to cluster; FAISS would warn on stderr
    kmeans = faiss.Kmeans(z.shape[1], clusters, niter=25, seed=seed, spherical=spherical, verbose=False,
                          min_points_per_centroid=1)
    kmeans.train(z)
    _, assigned = kmeans.index.search(z, 1)
    assigned = assigned[:, 0]
    share_a = np.bincount(assigned[:len(a)], minlength=clusters) / len(a)
    share_b = np.bincount(assigned[len(a):], minlength=clusters) / len(b)
    nearest = faiss.IndexFlatL2(z.shape[1])
    nearest.add(z)
    _, centre = nearest.search(kmeans.centroids, 1)
    texts = list(a.texts) + list(b.texts)
    return [ClusterShare(c, float(share_a[c]), float(share_b[c]), float(share_b[c] - share_a[c]),
                         texts[centre[c, 0]]) for c in range(clusters)]


def write_plot(report: DriftReport, path: Path) -> None:
    """Two panels: each cluster's share of A and of B, and the permutation null of
    MMD² with the observed value marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (bars, hist) = plt.subplots(1, 2, figsize=(12, 4.5))
    clusters = np.arange(len(report.cluster_shares))
    bars.bar(clusters - 0.2, [c.share_a for c in report.cluster_shares], 0.4, label=f"A (n={report.n_a})")
    bars.bar(clusters + 0.2, [c.share_b for c in report.cluster_shares], 0.4, label=f"B (n={report.n_b})")
    bars.set(xticks=clusters, xlabel="cluster", ylabel="share of documents", title="Cluster shares")
    bars.legend()
    hist.hist(report.null, bins=30, color="grey", label="permuted")
    hist.axvline(report.mmd, color="red", label=f"observed (p = {report.p_value:.3g})")
    hist.set(xlabel="MMD²", ylabel="permutations", title=f"Centroid shift {report.centroid_shift:.4f}")
    hist.legend()
    fig.tight_layout()
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    finally:
        plt.close(fig)


def _other(col, other, other_where):
    """The collection B comes from; vectors of another model or width are refused."""
    if other is None:
        if other_where is None:
            raise EmbkitError("other_where: give another collection, or other_where to compare two slices of this one")
        return col
    a, b = col.space, other.space
    if (a.model, a.dim) != (b.model, b.dim):
        raise EmbkitError(f"other: {other.name} holds {b.model!r} vectors ({b.dim}-d) and {col.name} holds "
                          f"{a.model!r} ({a.dim}-d); vectors from different models cannot be compared")
    return other


def _side(col, where, field: str, side: str):
    table = slice_table(col, where, field, f"{side} ({col.name})")
    if len(table) < 2:
        raise EmbkitError(f"{field}: {side} ({col.name}) needs at least 2 documents to compare, has {len(table)}")
    return table


def _sample(n: int, size: int, rng) -> np.ndarray:
    return np.arange(n) if n <= size else np.sort(rng.choice(n, size, replace=False))


def _cosine(u: np.ndarray, v: np.ndarray) -> float:
    norm = np.linalg.norm(u) * np.linalg.norm(v)
    return float(u @ v / norm) if norm > 0 else 0.0


def _check_int(value, field: str, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise EmbkitError(f"{field}: must be an integer from {low} to {high}, got {value!r}")
