"""A BERT cross-encoder folder (sentence-transformers `CrossEncoder` format) as an ONNX
file, built once from its safetensors weights (no torch) and kept in EMBKIT_HOME/models.

The graph is encoders/bert_graph.py's BERT encoder plus the sequence-classification
head `BertForSequenceClassification` puts on it: the [CLS] vector through the pooler
(dense + tanh) and the classifier (dense to one logit). The CrossEncoder's activation
(sigmoid by default) is applied by the scorer, in numpy. Files are named by a
fingerprint of the weights and configs, so a retrained folder is exported again.
"""

import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from ..errors import EmbkitError
from ..paths import embkit_home
from .cross_encoder_head import attach_head, head_weights
from .onnx_weights import file_identity

BUILD_VERSION = "4"  # bump when the graph (or its quantization) changes (4: int8 scaled per token)
VARIANTS = ("fp32", "int8")
_CONFIGS = ("config.json", "config_sentence_transformers.json", "sentence_bert_config.json", "tokenizer_config.json")


def is_bert_cross_encoder(folder: Path) -> bool:
    """True when `folder` holds a BERT sequence classifier this module can export."""
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return (config.get("model_type") == "bert" and (folder / "model.safetensors").is_file()
            and (folder / "tokenizer.json").is_file() and config.get("hidden_act", "gelu") == "gelu")


def fingerprint(folder: Path) -> str:
    """A short hash of what the graph is built from: the weights (path, inode, size, mtime,
    ctime: weights synced over with size and mtime kept get a new inode or ctime) and the
    configs' contents."""
    weights = folder / "model.safetensors"
    stat = weights.stat()
    key = [f"{weights.resolve()}|{file_identity(stat)}|{BUILD_VERSION}"]
    key += [(folder / name).read_text() for name in _CONFIGS if (folder / name).is_file()]
    return hashlib.sha256("\n".join(key).encode()).hexdigest()[:16]


def cross_encoder_onnx(folder: Path, variant: str = "fp32", models: Path | None = None) -> Path:
    """The cached ONNX file (inputs input_ids, attention_mask, token_type_ids; output
    logits [batch, 1]) of the cross-encoder in `folder`, exported if missing into
    `models` (default EMBKIT_HOME/models). `int8` is cross_encoder_int8's: the encoder's
    int8 recipe (quantize_graph.py) with the head on top."""
    if variant not in VARIANTS:
        raise EmbkitError(f"reranker: variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    models = embkit_home() / "models" if models is None else models
    target = models / f"{folder.name}-{fingerprint(folder)}-rerank-{variant}.onnx"
    if target.exists():
        return target
    if variant == "int8":
        from .cross_encoder_int8 import write_int8_cross_encoder

        atomic_write(target, lambda tmp: write_int8_cross_encoder(folder, tmp))
    else:
        model = build_cross_encoder_onnx(folder)
        atomic_write(target, lambda tmp: tmp.write_bytes(model.SerializeToString()))
    return target


def cross_encoder_onnx_bytes(folder: Path, variant: str = "fp32") -> bytes:
    """The ONNX model of `cross_encoder_onnx`, built in a temporary folder and returned
    as bytes: for a process whose EMBKIT_HOME cannot be written."""
    with tempfile.TemporaryDirectory(prefix="embkit-rerank-") as models:
        return cross_encoder_onnx(folder, variant, Path(models)).read_bytes()


def build_cross_encoder_onnx(folder: Path):
    """The ONNX model of the BERT sequence classifier in `folder` (one logit per pair).
    An unpadded batch's attention is onnxruntime's fused MultiHeadAttention (bert_graph's
    `unpadded_attention`): 5% less time a pair at 160 tokens, the same scores."""
    import onnx

    from .bert_graph import build_bert_onnx

    head = head_weights(folder)
    model = build_bert_onnx(folder, unpadded_attention=True)
    _last_layer_for_cls_only(model.graph, json.loads((folder / "config.json").read_text())["num_hidden_layers"])
    attach_head(model.graph, head)
    onnx.checker.check_model(model)
    return model


def _last_layer_for_cls_only(graph, layers: int) -> None:
    """The head reads only the [CLS] row, so the last layer computes only that row: its
    keys and values still come from every token, but the query, attention output,
    residual and feed-forward run on one row instead of all (about 14% less work for
    6 layers). Exact: every other row of the last layer is discarded anyway. A graph
    of another shape than expected is left whole."""
    from onnx import helper, numpy_helper

    p = f"encoder.layer.{layers - 1}.attention.self."
    query = [n for n in graph.node if n.op_type == "MatMul" and p + "query.weight" in n.input]
    if len(query) != 1:
        return
    x = query[0].input[0]
    users = [n for n in graph.node if x in n.input]
    kv = [n for n in users if n.op_type == "MatMul" and {p + "key.weight", p + "value.weight"} & set(n.input)]
    rest = [n for n in users if n not in kv and n is not query[0]]
    if len(kv) != 2 or len(rest) != 1 or rest[0].op_type != "Add":
        return
    for name, value in (("cls_start", 0), ("cls_end", 1), ("cls_axis", 1)):
        graph.initializer.append(numpy_helper.from_array(np.array([value], np.int64), name))
    at = list(graph.node).index(query[0])
    graph.node.insert(at, helper.make_node("Slice", [x, "cls_start", "cls_end", "cls_axis"], ["cls_rows"]))
    for node in (query[0], rest[0]):
        node.input[list(node.input).index(x)] = "cls_rows"
