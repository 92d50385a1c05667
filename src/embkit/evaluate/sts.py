"""Semantic textual similarity: Spearman correlation between the cosine of two sentences'
vectors and the human score, on the STS Benchmark, as MTEB's STSBenchmark task does."""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..encoders.base import l2_normalize
from ..errors import EmbkitError
from .report import Progress, run_task, unique_texts

STS_FILES = {"train": "sts-train.csv", "dev": "sts-dev.csv", "test": "sts-test.csv"}


@dataclass
class StsTask:
    """Sentence pairs with gold scores (0–5); `texts` holds every distinct sentence once."""

    sentences1: list[str]
    sentences2: list[str]
    gold: np.ndarray
    split: str
    dataset: str
    settings: dict
    name: str = "sts"
    texts: list[str] = field(init=False)

    def __post_init__(self):
        self.texts, self._rows = unique_texts(self.sentences1, self.sentences2)

    @property
    def n(self) -> int:
        return len(self.gold)

    @property
    def mteb_task(self) -> str | None:
        return "STSBenchmark" if (self.dataset, self.split) == ("stsb", "test") else None

    def score(self, vectors: np.ndarray) -> dict[str, float]:
        """Spearman (and Pearson) of the pairs' cosines against the gold scores."""
        unit = l2_normalize(np.asarray(vectors, dtype=np.float32))
        a = unit[[self._rows[s] for s in self.sentences1]]
        b = unit[[self._rows[s] for s in self.sentences2]]
        cosine = (a.astype(np.float64) * b).sum(axis=1)
        return {"spearman": spearman(cosine, self.gold), "pearson": pearson(cosine, self.gold)}


def load_sts(folder: str | Path, split: str = "test") -> StsTask:
    """The STS Benchmark `sts-<split>.csv`: tab-separated, no header; fields 5–7 are the
    score and the two sentences (some lines carry extra trailing fields)."""
    if split not in STS_FILES:
        raise EmbkitError(f"split: must be one of {', '.join(STS_FILES)}, got {split!r}")
    path = Path(folder) / STS_FILES[split]
    if not path.is_file():
        raise EmbkitError(f"data: {path} not found (expected the STS Benchmark folder with {STS_FILES[split]})")
    first, second, gold = [], [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split("\t")
        if len(fields) < 7:
            raise EmbkitError(f"{path}:{number}: expected at least 7 tab-separated fields, got {len(fields)}")
        try:
            gold.append(float(fields[4]))
        except ValueError:
            raise EmbkitError(f"{path}:{number}: score {fields[4]!r} is not a number") from None
        first.append(fields[5])
        second.append(fields[6])
    if not gold:
        raise EmbkitError(f"{path}: no sentence pairs")
    return StsTask(first, second, np.array(gold), split, Path(folder).resolve().name,
                   {"data": str(folder), "similarity": "cosine"})


def eval_sts(folder: str | Path, model="minilm", split: str = "test", progress: Progress | None = None) -> dict:
    """Embed every sentence of the split once and report Spearman of cosine against gold."""
    return run_task(load_sts(folder, split), model, progress)


def ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (as scipy's rankdata does)."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    _, first, counts = np.unique(x[order], return_index=True, return_counts=True)
    out = np.empty(len(x))
    out[order] = np.repeat(first + (counts + 1) / 2, counts)
    return out


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation (nan when either side is constant)."""
    x = np.asarray(x, dtype=np.float64) - np.mean(x)
    y = np.asarray(y, dtype=np.float64) - np.mean(y)
    denominator = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / denominator) if denominator > 0 else float("nan")


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation: Pearson of the (tie-averaged) ranks."""
    if len(x) != len(y) or len(x) < 2:
        raise EmbkitError(f"spearman: needs two sequences of the same length of at least 2, got {len(x)} and {len(y)}")
    return pearson(ranks(x), ranks(y))
