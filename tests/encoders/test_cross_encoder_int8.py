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

OTHER_LONG = ["Borrow checking rejects code that would use memory after freeing it. " * 3,
              "Bread rises while the yeast ferments the sugar in the dough. " * 3]  # truncated like TEXTS[3]


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
    assert {"If", "QuantizeLinear", "MatMulInteger", "LayerNormalization", "Sum"} <= ops
    assert "SkipLayerNormalization" not in ops and "Softmax" not in ops
    assert "DynamicQuantizeLinear" not in ops  # no activation scaled per tensor: each token has its own
    kinds = {node.name: node.op_type for node in model.graph.node}
    assert [kinds[name] for name in HEAD_NODES] == ["MatMul", "MatMul"]
    assert [o.name for o in model.graph.output] == ["logits"]
    assert sum(1 for node in model.graph.node if node.op_type == "Slice") == 1  # the [CLS] row of the last layer


def test_int8_score_of_a_pair_does_not_depend_on_its_batchmates(tiny, tmp_path, monkeypatch):
    # dynamic quantization scaled activations per session call: scored in one batch, a
    # pair's int8 score moved with the other candidates (1e-3 on MiniLM, Spearman 0.99
    # between batch sizes). Scaled per token and batched by length, it is the same score
    # to the bit, and the equal-length pairs share runs.
    from embkit.search import rerank

    monkeypatch.setenv("EMBKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(rerank.VARIANT_ENV, "int8")
    monkeypatch.setattr(rerank, "_loaded", {})
    model = rerank.load_reranker(tiny)
    texts = TEXTS + [OTHER_LONG[0], OTHER_LONG[1], TEXTS[2], "Go is reference counted."]
    runs = _count_runs(model, monkeypatch)
    together = rerank.rerank_scores(model, QUERY, texts)
    assert len(runs) < len(texts) and max(runs) >= 3  # the three truncated passages ran as one batch
    alone = np.array([rerank.rerank_scores(model, QUERY, [text])[0] for text in texts])
    np.testing.assert_array_equal(together, alone)
    np.testing.assert_array_equal(together[[2, 7]], together[[7, 2]])  # one text, one score, wherever it sits


def _count_runs(model, monkeypatch) -> list[int]:
    """The batch sizes of `model`'s onnxruntime runs from now on."""
    runs, session = [], model._session

    class Counting:
        def run(self, names, feeds):
            runs.append(len(feeds["input_ids"]))
            return session.run(names, feeds)

    monkeypatch.setattr(model, "_session", Counting())
    return runs


def test_a_batch_with_per_tensor_scales_would_move_a_pairs_score(tiny, tmp_path):
    # the check above can fail: the graph as onnxruntime quantizes it (per-tensor scales)
    # scores the same pair differently beside other pairs of its length
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from embkit.encoders.cross_encoder_onnx import OnnxCrossEncoder

    ready = build_int8_ready_bert(tiny, cls_only=True)
    path = tmp_path / "per-tensor.onnx"
    quantize_dynamic(ready.model, str(path), per_channel=True, weight_type=QuantType.QInt8,
                     op_types_to_quantize=["MatMul"], extra_options={"DefaultTensorType": TensorProto.FLOAT})
    feeds = _feeds(tiny, [(QUERY, TEXTS[3]), (QUERY, OTHER_LONG[1])])
    assert feeds["attention_mask"].min() == 1  # equal lengths: no padding
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    together = session.run(None, feeds)[0][0, 0]
    alone = session.run(None, {k: v[:1] for k, v in feeds.items()})[0][0, 0]
    assert np.abs(together - alone).max() > 0
    per_token = OnnxCrossEncoder(tiny, cross_encoder_onnx(tiny, "int8", tmp_path), same_length_batches=True)
    assert per_token._session.run(None, feeds)[0][0, 0] == per_token._session.run(
        None, {k: v[:1] for k, v in feeds.items()})[0][0, 0]


def test_int8_scores_stay_near_fp32(tiny, tmp_path):
    # the per-token rewrite scales each product by its rows' scales: a scale applied to
    # the wrong product, or twice, would move the scores far
    from embkit.encoders.cross_encoder_onnx import OnnxCrossEncoder

    pairs = [(QUERY, text) for text in TEXTS]
    fp32 = OnnxCrossEncoder(tiny, cross_encoder_onnx(tiny, "fp32", tmp_path)).predict(pairs)
    int8 = OnnxCrossEncoder(tiny, cross_encoder_onnx(tiny, "int8", tmp_path), same_length_batches=True).predict(pairs)
    # int8 rounding of a 32-wide model drawn with wide weights: measured 0.020 here (a
    # wrong row scale gives errors of ~0.3); on a trained MiniLM reranker 0.006
    np.testing.assert_allclose(int8, fp32, atol=0.05)


def test_every_product_is_scaled_by_its_rows_and_still_fused(tiny, tmp_path):
    # each MatMulInteger's product gets its rows' scales, and onnxruntime still fuses it
    # into MatMulIntegerToFloat (with a constant activation scale it folded the Mul first
    # and left MatMulInteger, Cast and two Muls apart)
    model = onnx.load(str(cross_encoder_onnx(tiny, "int8", tmp_path)))
    products = sum(1 for node in model.graph.node if node.op_type == "MatMulInteger")
    rows = sum(1 for node in model.graph.node if node.op_type == "Mul" and node.input[0].endswith("per_token_unscaled"))
    assert products == rows == 2 * 6  # 2 layers: q, k, v, attention output, feed-forward in and out
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(str(cross_encoder_onnx(tiny, "int8", tmp_path)), options, providers=["CPUExecutionProvider"])
    ops = [node.op_type for node in onnx.load(str(tmp_path / "optimized.onnx")).graph.node]
    assert ops.count("MatMulIntegerToFloat") == products and "MatMulInteger" not in ops
