"""embkit's int8 recipe for a BERT checkpoint: dynamic int8 on an int8-ready graph.

The graph (quantize_graph.py) fuses attention and keeps the few outlier feed-forward
channels (quantize_calibration.py) in fp32; every other MatMul with a weight gets
onnxruntime's dynamic quantization, int8 weights with one scale per output channel
(per-tensor loses too much: cosine 0.96 against 0.99). Static (calibrated) activation
scales were not used: the per-batch dynamic scale is what the outlier split makes fit.
"""

import hashlib
import json
import logging
from pathlib import Path

from . import quantize_calibration as calibration

# Everything that decides the int8 file's contents; its hash names the cached file, so
# changing any of it (or the calibration text) builds a new file instead of reusing one.
RECIPE = {
    "graph": "mha-if-unpadded+sum-residual+fp32-outlier-ffn-channels",
    "weights": "int8 per-channel, dynamic uint8 activations",
    "outlier_ratio": calibration.OUTLIER_RATIO,
    "max_outliers": calibration.MAX_OUTLIERS,
    "calibration_text": calibration.CALIBRATION_TEXT,
}


def recipe_tag() -> str:
    """A short hash of RECIPE, for the cached file's name."""
    return hashlib.sha256(json.dumps(RECIPE, sort_keys=True).encode()).hexdigest()[:8]


def write_int8_bert(model_dir: Path, target: Path) -> None:
    """Quantize the BERT checkpoint in `model_dir` by the recipe and write it to `target`,
    its weights in `target`.data beside it (onnxruntime's external data layout)."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from .quantize_graph import build_int8_ready_bert

    ready = build_int8_ready_bert(model_dir, calibration.find_outlier_channels(model_dir))
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # the quantizer's advice to pre-process is not for our users
    try:
        quantize_dynamic(
            ready.model, str(target), per_channel=True, weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"], nodes_to_exclude=ready.fp32_nodes, use_external_data_format=True,
            # MultiHeadAttention's outputs have no inferred type; they are float
            extra_options={"DefaultTensorType": TensorProto.FLOAT},
        )
    finally:
        logging.disable(previous)
