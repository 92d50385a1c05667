"""The analysis verbs, each living in analysis/ (options documented there); they work
on documents by default (unit="chunk" for chunks, see analysis/units.py)."""

from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ..search import Hit

if TYPE_CHECKING:
    from .facade import Collection


class AnalysisVerbs:
    """cluster, project, map, outliers, duplicates, dedupe, recommend, drift."""

    def cluster(self, k: int | str = "auto", method: str = "kmeans", **options):
        """Group documents (k-means or HDBSCAN), label each cluster by its distinctive
        terms and a representative document, and store the assignment as metadata."""
        from ..analysis.cluster import cluster

        return cluster(self._served(options), k=k, method=method, **options)

    def project(self, method: str = "umap", **options):
        """2-D coordinates of the documents (umap, pca or tsne), cached per generation;
        `reading` (a server's read lock) is held for the reads only, not the projection."""
        from ..analysis.coordinates import project

        return project(self._served(options), method=method, **options)

    def map(self, out: str | Path, method: str = "umap", **options):
        """Write an interactive HTML map (and a PNG beside it) of the documents."""
        from ..analysis.maps import write_map

        return write_map(self._serving(None), out, method=method, **options)

    def outliers(self, top: int = 20, method: str = "knn", **options):
        """The `top` documents least like the rest (k-NN distance or local outlier factor)."""
        from ..analysis.outliers import outliers

        return outliers(self._served(options), top=top, method=method, **options)

    def duplicates(self, threshold: float = 0.95, **options):
        """Groups of near-duplicate documents (cosine ≥ threshold), found through the index."""
        from ..analysis.duplicates import duplicates

        return duplicates(self._served(options), threshold=threshold, **options)

    def dedupe(self, threshold: float = 0.95, keep: str = "first", delete: bool = False, **options):
        """Near-duplicate groups and which ids would go; deletes them only with delete=True."""
        from ..analysis.duplicates import dedupe

        return dedupe(self._served(options), threshold=threshold, keep=keep, delete=delete, **options)

    def recommend(self, liked: Sequence[str], disliked: Sequence[str] = (), k: int = 10, **options) -> list[Hit]:
        """Documents like the `liked` ones and unlike the `disliked`, from a profile vector."""
        from ..analysis.recommend import recommend

        return recommend(self._serving(None), liked=liked, disliked=disliked, k=k, **options)

    def drift(self, other: "Collection | None" = None, **options):
        """How far another collection (or another slice of this one) has moved."""
        from ..analysis.drift import drift

        return drift(self._serving(None), other, **options)

    def _served(self, options: dict) -> "Collection":
        """`_serving(None)`, read under options' `reading` (a server's read lock) if given."""
        with options.get("reading", nullcontext)():
            return self._serving(None)
