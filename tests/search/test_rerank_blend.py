"""Blending a reranker's scores with the first stage's, and reading the saved weight."""

import json

import numpy as np
import pytest

from embkit.search.rerank import TRAIN_INFO, blend_of, blend_scores


def test_blend_normalizes_both_and_weights_them():
    first, reranker = np.array([0.9, 0.5, 0.1]), np.array([-2.0, 4.0, 0.0])  # unit: [1, .5, 0] and [0, 1, 1/3]
    assert np.allclose(blend_scores(first, reranker, 0.5), [0.5, 0.75, 1 / 6])
    assert np.allclose(blend_scores(first, reranker, 1.0), [0, 1, 1 / 3])
    assert np.allclose(blend_scores(first, reranker, 0.0), [1, 0.5, 0])
    assert np.allclose(blend_scores(first, reranker, None), reranker)  # a foreign reranker: its score alone


def test_blend_of_reads_the_training_summary(tmp_path):
    assert blend_of(tmp_path) is None
    (tmp_path / TRAIN_INFO).write_text(json.dumps({"blend": 0.3}))
    assert blend_of(tmp_path) == pytest.approx(0.3)
    (tmp_path / TRAIN_INFO).write_text("{not json")
    assert blend_of(tmp_path) is None
