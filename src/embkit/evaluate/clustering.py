"""Clustering quality: k-means on the embeddings of a labeled split, with k the number
of labels, scored by V-measure against the labels. Like MTEB's clustering tasks it uses
sklearn's MiniBatchKMeans (batch 500, n_init "auto"); k-means depends on its seed, so
the report is the mean and standard deviation over several seeded runs."""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import EmbkitError
from .classify import Labeled, check_seed, load_labeled
from .report import Progress, run_task, unique_texts

RUNS = 5
KMEANS_BATCH = 500


@dataclass
class ClusterTask:
    """Labeled texts to cluster; `texts` holds each distinct text once."""

    data: Labeled
    split: str
    runs: int
    seed: int
    dataset: str
    settings: dict
    name: str = "cluster"
    mteb_task: None = None  # MTEB has no BANKING77 clustering task
    texts: list[str] = field(init=False)

    def __post_init__(self):
        self.texts, self._rows = unique_texts(self.data.texts)

    @property
    def n(self) -> int:
        return len(self.data.texts)

    def score(self, vectors: np.ndarray) -> dict[str, float]:
        """Mean and standard deviation of V-measure over `runs` k-means runs."""
        from sklearn.cluster import MiniBatchKMeans

        x = vectors[[self._rows[t] for t in self.data.texts]]
        k = len(set(self.data.labels))
        scores = []
        for run in range(self.runs):
            kmeans = MiniBatchKMeans(n_clusters=k, batch_size=KMEANS_BATCH, n_init="auto", random_state=self.seed + run)
            scores.append(v_measure(self.data.labels, kmeans.fit_predict(x)))
        return {"v_measure": np.mean(scores), "v_measure_std": np.std(scores)}


def cluster_task(folder: str | Path, split: str = "test", runs: int = RUNS, seed: int = 42) -> ClusterTask:
    """The clustering task of a labeled folder's split (BANKING77 test: 3,080 texts, 77 labels)."""
    if not 1 <= runs <= 100:
        raise EmbkitError(f"runs: must be between 1 and 100, got {runs}")
    check_seed(seed, runs)
    data = load_labeled(folder, split)
    if len(set(data.labels)) < 2:
        raise EmbkitError(f"data: {folder}/{split}.csv needs at least 2 labels to cluster")
    settings = {"data": str(folder), "algorithm": f"MiniBatchKMeans(batch_size={KMEANS_BATCH}, n_init='auto')",
                "k": len(set(data.labels)), "runs": runs, "seed": seed}
    return ClusterTask(data, split, runs, seed, Path(folder).resolve().name, settings)


def eval_cluster(folder: str | Path, model="minilm", split: str = "test", runs: int = RUNS, seed: int = 42,
                 progress: Progress | None = None) -> dict:
    """V-measure of k-means clusters of the model's embeddings against the labels."""
    return run_task(cluster_task(folder, split, runs, seed), model, progress)


def v_measure(truth, predicted, beta: float = 1.0) -> float:
    """Harmonic mean of homogeneity (each cluster holds one label) and completeness (each
    label sits in one cluster), from the label × cluster contingency table; 1.0 when
    either side has a single class, as sklearn's v_measure_score."""
    _, t = np.unique(np.asarray(truth), return_inverse=True)
    _, p = np.unique(np.asarray(predicted), return_inverse=True)
    if len(t) != len(p):
        raise EmbkitError(f"v_measure: {len(t)} labels for {len(p)} cluster assignments")
    joint = np.zeros((t.max() + 1, p.max() + 1))
    np.add.at(joint, (t, p), 1)
    joint /= len(t)
    h_truth, h_pred = _entropy(joint.sum(axis=1)), _entropy(joint.sum(axis=0))
    nonzero = joint > 0
    outer = np.outer(joint.sum(axis=1), joint.sum(axis=0))
    mutual = float((joint[nonzero] * np.log(joint[nonzero] / outer[nonzero])).sum())
    homogeneity = mutual / h_truth if h_truth > 0 else 1.0
    completeness = mutual / h_pred if h_pred > 0 else 1.0
    if homogeneity + completeness == 0:
        return 0.0
    return (1 + beta) * homogeneity * completeness / (beta * homogeneity + completeness)


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())
