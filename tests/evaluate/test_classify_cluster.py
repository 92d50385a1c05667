"""BANKING77 classification and clustering: metrics cross-checked against sklearn, MTEB's
sampling replayed exactly, and the real default model reproducing MTEB's published
Banking77Classification figures. MiniLM embeds the needed texts once for the module."""

from pathlib import Path

import numpy as np
import pytest
from sklearn.cluster import MiniBatchKMeans
from sklearn.metrics import accuracy_score, f1_score, v_measure_score

import embkit
from embkit.evaluate.classify import accuracy, classify_task, load_labeled, macro_f1, undersample
from embkit.evaluate.clustering import cluster_task, v_measure
from embkit.evaluate.report import run_task

from corpora import DATA

BANKING77 = DATA / "banking77"


class Lookup:
    """An encoder that serves vectors computed once, so both tasks share one MiniLM run."""

    def __init__(self, name: str, table: dict):
        self.name, self.table = name, table
        self.dim, self.normalized, self.max_tokens = 384, True, 256

    def encode(self, texts, batch_size=32, progress=None):
        return np.vstack([self.table[t] for t in texts])


@pytest.fixture(scope="module")
def banking77() -> Path:
    return BANKING77


@pytest.fixture(scope="module")
def minilm_banking(banking77, minilm) -> Lookup:
    texts = classify_task(banking77).texts  # the sampled train texts and the whole test split
    return Lookup("minilm", dict(zip(texts, minilm.encode(texts))))


def test_accuracy_and_macro_f1_match_sklearn():
    rng = np.random.default_rng(3)
    truth = rng.choice(list("abcdef"), 400).tolist()
    predicted = rng.choice(list("abcdeg"), 400).tolist()  # f never predicted, g never true
    assert accuracy(truth, predicted) == pytest.approx(accuracy_score(truth, predicted), abs=1e-12)
    assert macro_f1(truth, predicted) == pytest.approx(f1_score(truth, predicted, average="macro"), abs=1e-12)
    assert macro_f1(truth, truth) == 1.0


def test_v_measure_matches_sklearn():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 12, 900)
    cases = [rng.integers(0, 15, 900), labels, (labels + 5) % 12, np.zeros(900, int), np.arange(900),
             np.where(rng.random(900) < 0.8, labels, rng.integers(0, 12, 900))]
    for predicted in cases:
        assert v_measure(labels, predicted) == pytest.approx(v_measure_score(labels, predicted), abs=1e-10)
    assert v_measure(["x"] * 5, [0, 0, 1, 1, 2]) == pytest.approx(v_measure_score(["x"] * 5, [0, 0, 1, 1, 2]))


def test_undersample_keeps_the_first_examples_of_each_label_in_order():
    labels = ["a", "b", "a", "a", "c", "b", "a"]
    assert undersample(labels, 2, np.array([6, 5, 4, 3, 2, 1, 0])).tolist() == [6, 5, 4, 3, 1]


def test_sampling_replays_mteb(banking77):
    """MTEB seeds numpy's global generator with 42, shuffles the train indices in place,
    keeps 8 a label, and its evaluator reseeds with 42 before the next experiment."""
    task = classify_task(banking77)
    labels = task.train.labels
    state = np.random.get_state()
    try:
        np.random.seed(42)
        order, expected = np.arange(len(labels)), []
        for _ in range(10):
            np.random.shuffle(order)
            expected.append(undersample(labels, 8, order))
            np.random.seed(42)
    finally:
        np.random.set_state(state)
    assert len(task.draws) == 10
    for draw, reference in zip(task.draws, expected):
        np.testing.assert_array_equal(draw, reference)
        assert len(draw) == 8 * 77
    assert len(task.texts) < len(task.train.texts) + task.n  # only sampled train texts are embedded


def test_minilm_reproduces_mteb_banking77(banking77, minilm_banking):
    """Measured: accuracy 0.800422, macro-F1 0.793788, std 0.00762 — MTEB's published
    0.8004220779 / 0.7937884047 / 0.0076199161 to every digit shown."""
    report = run_task(classify_task(banking77), minilm_banking)
    metrics, published = report["metrics"], report["reference"]["metrics"]
    assert metrics["accuracy"] == pytest.approx(published["accuracy"], abs=1e-3)
    assert metrics["macro_f1"] == pytest.approx(published["macro_f1"], abs=1e-3)
    assert metrics["accuracy_std"] == pytest.approx(published["accuracy_std"], abs=1e-3)
    assert report["n"] == 3080 and report["settings"]["samples_per_label"] == 8
    assert report["reference"]["task"] == "Banking77Classification"


def test_reference_only_for_mteb_protocol(banking77):
    """The published figure is shown only beside a run of the same protocol."""
    assert classify_task(banking77, samples_per_label=0).mteb_task is None
    assert classify_task(banking77, experiments=3).mteb_task is None
    assert cluster_task(banking77, runs=1).mteb_task is None


def test_minilm_clusters_banking77_test(banking77, minilm_banking):
    """V-measure of a MiniBatchKMeans (k = 77) run, equal to sklearn's on the same
    clusters. Measured over 5 runs (seeds 42-46): 0.781 ± 0.006."""
    task = cluster_task(banking77, "test", runs=1, seed=42)
    report = run_task(task, minilm_banking)
    x = minilm_banking.encode(task.data.texts)
    clusters = MiniBatchKMeans(77, batch_size=500, n_init="auto", random_state=42).fit_predict(x)
    assert report["metrics"]["v_measure"] == pytest.approx(v_measure_score(task.data.labels, clusters), abs=1e-6)
    assert 0.76 <= report["metrics"]["v_measure"] <= 0.80
    assert report["settings"]["k"] == 77 and report["n"] == 3080 and report["reference"] is None


def test_bad_input(banking77, tmp_path):
    with pytest.raises(embkit.EmbkitError, match="samples_per_label: must be 0"):
        classify_task(banking77, samples_per_label=-1)
    with pytest.raises(embkit.EmbkitError, match="experiments: must be between 1 and 100, got 0"):
        classify_task(banking77, experiments=0)
    with pytest.raises(embkit.EmbkitError, match="runs: must be between 1 and 100, got 0"):
        cluster_task(banking77, runs=0)
    # numpy's and scikit-learn's range: past it a ValueError traceback (`eval classify --seed 99999999999999999999`)
    with pytest.raises(embkit.EmbkitError, match=r"^seed: must be an integer from 0 to 4294967295, got 4294967296$"):
        classify_task(banking77, seed=2**32)
    with pytest.raises(embkit.EmbkitError, match=r"^seed: must be an integer from 0 to 4294967295, got -1$"):
        classify_task(banking77, seed=-1)
    with pytest.raises(embkit.EmbkitError, match=r"^seed: must be an integer from 0 to 4294967291, got 4294967295$"):
        cluster_task(banking77, runs=5, seed=2**32 - 1)  # run 4 would seed k-means with 2**32 + 3
    with pytest.raises(embkit.EmbkitError, match=r"data: .*train\.csv not found"):
        classify_task(tmp_path)
    (tmp_path / "test.csv").write_text("sentence,intent\nhello,greet\n")
    with pytest.raises(embkit.EmbkitError, match=r"test\.csv: expected columns 'text' and 'category'"):
        load_labeled(tmp_path, "test")
    (tmp_path / "test.csv").write_text("text,category\nhello,greet\n,greet\n")
    with pytest.raises(embkit.EmbkitError, match=r"test\.csv:3: empty text or label"):
        load_labeled(tmp_path, "test")
