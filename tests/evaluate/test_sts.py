"""STS-B evaluation: the reader, Spearman cross-checked against scipy, and the real
default model reproducing MTEB's STSBenchmark figure."""

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import embkit
from embkit.evaluate.report import format_table, reference
from embkit.evaluate.sts import eval_sts, load_sts, pearson, ranks, spearman

from corpora import DATA

STSB = DATA / "stsb"


@pytest.fixture(scope="module")
def stsb() -> Path:
    return STSB


def test_reader_takes_score_and_sentences_from_fields_5_to_7(stsb):
    task = load_sts(stsb, "test")
    assert task.n == 1379 and len(task.sentences1) == len(task.sentences2) == 1379
    assert (task.sentences1[0], task.sentences2[0], task.gold[0]) == (
        "A girl is styling her hair.", "A girl is brushing her hair.", 2.5)
    assert task.gold.min() == 0 and task.gold.max() == 5
    assert len(task.texts) == len(set(task.sentences1 + task.sentences2))  # each sentence embedded once
    assert [load_sts(stsb, s).n for s in ("train", "dev")] == [5749, 1500]
    assert (task.mteb_task, load_sts(stsb, "dev").mteb_task) == ("STSBenchmark", None)


def test_ranks_and_spearman_match_scipy():
    rng = np.random.default_rng(0)
    for x, y in [(rng.normal(size=500), rng.normal(size=500)),
                 (rng.integers(0, 6, 800).astype(float), rng.normal(size=800)),  # many ties, as in gold scores
                 (np.round(rng.random(300), 1), np.round(rng.random(300), 1))]:
        np.testing.assert_allclose(ranks(x), stats.rankdata(x))
        assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
        assert pearson(x, y) == pytest.approx(stats.pearsonr(x, y).statistic, abs=1e-12)
    with pytest.raises(embkit.EmbkitError, match="spearman: needs two sequences of the same length"):
        spearman([1.0, 2.0], [1.0])


def test_minilm_reproduces_mteb_stsbenchmark(stsb, minilm):
    report = eval_sts(stsb, minilm, "test")
    assert report["metrics"]["spearman"] == pytest.approx(0.820, abs=0.005)  # measured 0.8203
    assert report["reference"] == reference("STSBenchmark", "minilm") == {
        "source": "MTEB", "task": "STSBenchmark", "model": "all-MiniLM-L6-v2", "metrics": {"spearman": 0.820}}
    assert (report["task"], report["dataset"], report["split"], report["model"], report["n"]) == (
        "sts", "stsb", "test", "minilm", 1379)
    # the same cosines through scipy
    task = load_sts(stsb, "test")
    a, b = minilm.encode(task.sentences1), minilm.encode(task.sentences2)
    expected = stats.spearmanr((a * b).sum(axis=1), task.gold).statistic
    assert report["metrics"]["spearman"] == pytest.approx(expected, abs=1e-5)
    assert "spearman" in format_table(report) and "0.8200" in format_table(report)


def test_glove_has_no_reference_and_scores_lower(stsb):
    report = eval_sts(stsb, "glove-50d")
    assert report["metrics"]["spearman"] == pytest.approx(0.4181, abs=1e-3)  # measured
    assert report["reference"] is None


def test_bad_input(stsb, tmp_path):
    with pytest.raises(embkit.EmbkitError, match="split: must be one of train, dev, test, got 'validation'"):
        load_sts(stsb, "validation")
    with pytest.raises(embkit.EmbkitError, match=r"data: .*sts-test\.csv not found"):
        load_sts(tmp_path)
    (tmp_path / "sts-test.csv").write_text("g\tf\t2012\t1\t2.0\tone\ttwo\ng\tf\t2012\t2\tn/a\tthree\tfour\n")
    with pytest.raises(embkit.EmbkitError, match=r"sts-test\.csv:2: score 'n/a' is not a number"):
        load_sts(tmp_path)
