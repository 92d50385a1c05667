"""The int8 reranker's graph: built on the encoder's int8-ready layout (fused attention,
no SkipLayerNormalization), its last layer on the [CLS] row only (the same [CLS] vector
as the full layer), the head kept fp32; and the calibration that finds its outlier
channels runs on a model with fewer positions than 256 and a tokenizer.json that pads."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from tokenizers import Tokenizer

from embkit.encoders.cross_encoder_export import cross_encoder_onnx
from embkit.encoders.cross_encoder_head import HEAD_NODES
from embkit.encoders.quantize_calibration import _calibration_length, find_outlier_channels
from embkit.encoders.quantize_graph import build_int8_ready_bert

from test_cross_encoder_onnx import QUERY, TEXTS, _tiny_cross_encoder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ce8") / "tiny-reranker"
    _tiny_cross_encoder(folder)
    return folder


def _feeds(folder, pairs):
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=24)
    enc = tok.encode_batch(pairs)
    width = max(len(e.ids) for e in enc)
    ids, types, mask = (np.zeros((len(enc), width), np.int64) for _ in range(3))
    for i, e in enumerate(enc):
        ids[i, :len(e.ids)], types[i, :len(e.ids)], mask[i, :len(e.ids)] = e.ids, e.type_ids, 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def test_calibration_fits_a_model_with_64_positions_and_a_padding_tokenizer(tiny):
    # the tiny model has 64 positions; its tokenizer.json (MiniLM's) pads every text to 128
    assert json.loads((tiny / "tokenizer.json").read_text())["padding"]["strategy"] == {"Fixed": 128}
    assert _calibration_length(tiny) == 64
    outliers = find_outlier_channels(tiny)  # raised onnxruntime's broadcast error (64 by 128) before
    assert set(outliers) <= {0, 1} and all(0 <= c < 64 for cols in outliers.values() for c in cols)


@pytest.mark.parametrize("padded", [False, True])
def test_cls_only_last_layer_gives_the_full_layers_cls_row(tiny, padded):
    pairs = [(QUERY, t) for t in ([TEXTS[2], TEXTS[3]] if padded else [TEXTS[3], TEXTS[3] + " again"])]
    feeds = _feeds(tiny, pairs)
    assert (feeds["attention_mask"].min() == 0) == padded  # both MultiHeadAttention branches
    rows = []
    for cls_only in (False, True):
        model = build_int8_ready_bert(tiny, cls_only=cls_only).model
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        rows.append(session.run(None, feeds)[0])
    full, cls = rows
    assert cls.shape == (len(pairs), 1, full.shape[2])
    np.testing.assert_allclose(cls[:, 0], full[:, 0], atol=1e-5)


def test_int8_file_is_the_fused_layout_with_an_fp32_head(tiny, tmp_path):
    model = onnx.load(str(cross_encoder_onnx(tiny, "int8", tmp_path)))
    ops = {node.op_type for node in model.graph.node}
    assert {"If", "DynamicQuantizeLinear", "MatMulInteger", "LayerNormalization", "Sum"} <= ops
    assert "SkipLayerNormalization" not in ops and "Softmax" not in ops
    kinds = {node.name: node.op_type for node in model.graph.node}
    assert [kinds[name] for name in HEAD_NODES] == ["MatMul", "MatMul"]
    assert [o.name for o in model.graph.output] == ["logits"]
    assert sum(1 for node in model.graph.node if node.op_type == "Slice") == 1  # the [CLS] row of the last layer


def test_int8_score_of_a_pair_does_not_depend_on_its_batchmates(tiny, tmp_path, monkeypatch):
    # dynamic quantization scales activations per session call: scored in one batch, a
    # pair's int8 score moved with the other candidates (1e-3 on MiniLM, Spearman 0.99
    # between batch sizes); one pair per call is as fast on one core and repeatable
    from embkit.search import rerank

    monkeypatch.setenv("EMBKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(rerank.VARIANT_ENV, "int8")
    monkeypatch.setattr(rerank, "_loaded", {})
    model = rerank.load_reranker(tiny)
    together = rerank.rerank_scores(model, QUERY, TEXTS)
    alone = np.array([rerank.rerank_scores(model, QUERY, [text])[0] for text in TEXTS])
    np.testing.assert_array_equal(together, alone)
