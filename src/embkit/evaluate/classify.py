"""Classification with embeddings as features: logistic regression trained on the train
split, scored on the test split (accuracy, macro-F1), following MTEB's protocol.

MTEB (AbsTaskClassification, as used for its Banking77Classification figures) runs 10
experiments; each shuffles the train indices and keeps the first 8 examples of each
label, fits `LogisticRegression(max_iter=100, random_state=42)` and scores the whole
test split; the report is the mean (and standard deviation) over experiments. Its shuffle
is numpy's legacy global generator, reseeded with 42 after every draw, so experiment k
shuffles the previous order once more with a fresh RandomState(42). Replaying exactly
that reproduces MTEB's published all-MiniLM-L6-v2 figures to every digit.
`samples_per_label=0` trains once on the full train split instead.
"""

import csv
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import EmbkitError
from .report import Progress, run_task, unique_texts

SAMPLES_PER_LABEL = 8  # MTEB's default for classification tasks
EXPERIMENTS = 10
MAX_ITER = 100


@dataclass(frozen=True)
class Labeled:
    """Texts and their labels, in file order."""

    texts: list[str]
    labels: list[str]


def load_labeled(folder: str | Path, split: str, text_column: str = "text", label_column: str = "category") -> Labeled:
    """`<split>.csv` with a header, one text and one label a row (BANKING77's layout)."""
    path = Path(folder) / f"{split}.csv"
    if not path.is_file():
        raise EmbkitError(f"data: {path} not found (expected a folder with train.csv and test.csv: "
                          f"{text_column},{label_column})")
    texts, labels = [], []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if not {text_column, label_column} <= set(reader.fieldnames or ()):
            raise EmbkitError(f"{path}: expected columns {text_column!r} and {label_column!r}, "
                              f"found {reader.fieldnames}")
        for number, row in enumerate(reader, 2):
            if not (row[text_column] or "").strip() or not row[label_column]:
                raise EmbkitError(f"{path}:{number}: empty text or label")
            texts.append(row[text_column])
            labels.append(row[label_column])
    if not texts:
        raise EmbkitError(f"{path}: no rows")
    return Labeled(texts, labels)


def undersample(labels: list[str], per_label: int, order: np.ndarray) -> np.ndarray:
    """Indices of the first `per_label` examples of each label, walking `order` (MTEB's
    undersampling: a balanced, random few-shot train set)."""
    seen: dict[str, int] = {}
    keep = []
    for i in order:
        if seen.get(labels[i], 0) < per_label:
            seen[labels[i]] = seen.get(labels[i], 0) + 1
            keep.append(i)
    return np.array(keep)


@dataclass
class ClassifyTask:
    """Train and test examples; `texts` holds only what some experiment trains or tests on."""

    train: Labeled
    test: Labeled
    samples_per_label: int
    experiments: int
    seed: int
    dataset: str
    settings: dict
    name: str = "classify"
    split: str = "test"
    draws: list[np.ndarray] = field(init=False)  # the train rows of each experiment
    texts: list[str] = field(init=False)

    def __post_init__(self):
        order = np.arange(len(self.train.texts))
        self.draws = []
        for _ in range(self.experiments if self.samples_per_label else 1):
            if self.samples_per_label:
                np.random.RandomState(self.seed).shuffle(order)  # MTEB's stream (see the module docstring)
                self.draws.append(undersample(self.train.labels, self.samples_per_label, order))
            else:
                self.draws.append(np.arange(len(self.train.texts)))
        used = sorted(set(np.concatenate(self.draws).tolist()))
        self.texts, self._rows = unique_texts([self.train.texts[i] for i in used], self.test.texts)

    @property
    def n(self) -> int:
        return len(self.test.texts)

    @property
    def mteb_task(self) -> str | None:
        mteb = (self.dataset, self.samples_per_label, self.experiments) == ("banking77", SAMPLES_PER_LABEL, EXPERIMENTS)
        return "Banking77Classification" if mteb else None

    def score(self, vectors: np.ndarray) -> dict[str, float]:
        """Mean and standard deviation of accuracy and macro-F1 over the experiments."""
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        x_test = vectors[[self._rows[t] for t in self.test.texts]]
        accuracies, f1s = [], []
        for draw in self.draws:
            x_train = vectors[[self._rows[self.train.texts[i]] for i in draw]]
            clf = LogisticRegression(max_iter=MAX_ITER, random_state=self.seed)
            with warnings.catch_warnings():  # 100 iterations may stop short of convergence, as in MTEB
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(x_train, [self.train.labels[i] for i in draw])
            predicted = clf.predict(x_test).tolist()
            accuracies.append(accuracy(self.test.labels, predicted))
            f1s.append(macro_f1(self.test.labels, predicted))
        return {"accuracy": np.mean(accuracies), "macro_f1": np.mean(f1s),
                "accuracy_std": np.std(accuracies), "macro_f1_std": np.std(f1s)}


def check_seed(seed, runs: int = 1) -> None:
    """A seed numpy's RandomState and scikit-learn take (0 to 2**32 - 1; clustering seeds run i
    with seed + i): past it was a ValueError traceback, after the texts were embedded."""
    top = 2**32 - runs
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= top:
        raise EmbkitError(f"seed: must be an integer from 0 to {top}, got {seed!r}")


def classify_task(folder: str | Path, samples_per_label: int = SAMPLES_PER_LABEL, experiments: int = EXPERIMENTS,
                  seed: int = 42) -> ClassifyTask:
    """The train/test task of a labeled folder, with its sampling protocol fixed up front."""
    if samples_per_label < 0:
        raise EmbkitError(f"samples_per_label: must be 0 (the full train split) or more, got {samples_per_label}")
    if not 1 <= experiments <= 100:
        raise EmbkitError(f"experiments: must be between 1 and 100, got {experiments}")
    check_seed(seed)
    train, test = load_labeled(folder, "train"), load_labeled(folder, "test")
    settings = {"data": str(folder), "train": "train", "classifier": f"LogisticRegression(max_iter={MAX_ITER})",
                "samples_per_label": samples_per_label or "all",
                "experiments": experiments if samples_per_label else 1, "seed": seed}
    return ClassifyTask(train, test, samples_per_label, experiments, seed, Path(folder).resolve().name, settings)


def eval_classify(folder: str | Path, model="minilm", samples_per_label: int = SAMPLES_PER_LABEL,
                  experiments: int = EXPERIMENTS, seed: int = 42, progress: Progress | None = None) -> dict:
    """Accuracy and macro-F1 of logistic regression on the model's embeddings."""
    return run_task(classify_task(folder, samples_per_label, experiments, seed), model, progress)


def accuracy(truth: list, predicted: list) -> float:
    """Share of exact matches."""
    return float(np.mean([t == p for t, p in zip(truth, predicted, strict=True)]))


def macro_f1(truth: list, predicted: list) -> float:
    """Unweighted mean of per-label F1 over every label that occurs in either list (a
    label never predicted, or never true, counts 0), as sklearn's f1_score(average="macro")."""
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    scores = []
    for label in np.union1d(truth, predicted):
        tp = np.sum((truth == label) & (predicted == label))
        denominator = np.sum(truth == label) + np.sum(predicted == label)
        scores.append(2 * tp / denominator if denominator else 0.0)
    return float(np.mean(scores))
