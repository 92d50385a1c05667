"""The int8 reranker: the BERT encoder laid out for int8 (quantize_graph.py: fused
MultiHeadAttention, Sum residuals before LayerNormalization, outlier feed-forward
channels in fp32), its last layer on the [CLS] row only, the classification head on top,
then onnxruntime's dynamic quantization of every weight MatMul but the head's and the
outliers' (int8 weights per output channel), its activations then scaled per token
(quantize_per_token.py), so a pair's score is the same alone or in any batch of its length.

Measured with onnxruntime 1.32 on one core with AMX, 20 pairs of ~160 tokens: its int8
MatMuls (DynamicQuantizeMatMul) run ~5x the fp32 ones, and this layout took the reranker
from 1.7-1.9x to 2.0-2.1x the fp32 export's pairs/s (in one process, side by side) where
quantizing the textbook graph had left unfused attention and SkipLayerNormalization
(slower than its parts on CPU) in fp32. What is left is mostly attention (head size 32:
its 160 x 160 products and softmax run at ~1/5 of a large GEMM's rate, in int8 no faster),
GELU and the residual Sums, so the int8 reranker cannot reach 8x fp32 by its MatMuls alone.
On an AMD Zen 4 core (AVX-512 VNNI, no AMX) int8 GEMMs peak at 4x fp32 (~430 against
~115 GOP/s; benchmarks/rerank_ceiling.py), and a MiniLM pair of 128 tokens spends ~65%
of its time in them at ~80% of that peak.
"""

import logging
from pathlib import Path


def write_int8_cross_encoder(folder: Path, target: Path) -> None:
    """Build the int8 reranker of the cross-encoder in `folder` into the file `target`
    (one file: the weights stay inside)."""
    import onnx
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from .cross_encoder_head import HEAD_NODES, attach_head, head_weights
    from .quantize_calibration import find_outlier_channels
    from .quantize_graph import build_int8_ready_bert
    from .quantize_per_token import per_token_activations

    head = head_weights(folder)
    ready = build_int8_ready_bert(folder, find_outlier_channels(folder), cls_only=True)
    attach_head(ready.model.graph, head)
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # the quantizer's advice to pre-process is not for our users
    try:
        quantize_dynamic(ready.model, str(target), per_channel=True, weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul"], nodes_to_exclude=ready.fp32_nodes + list(HEAD_NODES),
                         extra_options={"DefaultTensorType": TensorProto.FLOAT})  # MHA outputs have no inferred type
    finally:
        logging.disable(previous)
    model = onnx.load(str(target))
    per_token_activations(model)  # each token its own activation scale: batch-mates change nothing
    onnx.save(model, str(target))
