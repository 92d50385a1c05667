"""The fp32 BERT graph that embkit quantizes to int8, laid out for int8 on CPU.

It computes what bert_graph.py's graph computes (to float32 rounding), with three
differences, each measured on SciFact abstracts (256 tokens) with onnxruntime 1.32:
- attention is one com.microsoft MultiHeadAttention node: once the projections are int8,
  the fp32 attention is the largest cost, and the fused node drops its Transposes,
  mask Add and separate Softmax. A batch without padding (length-sorted batches of
  abstracts cut at 256 tokens: 98% of the attention work) runs it without the mask,
  11 ms against 15 ms a layer at 2 × 256;
- a residual is Sum(product, bias, residual) before LayerNormalization, not two Adds:
  onnxruntime fuses Add + LayerNormalization into SkipLayerNormalization, whose CPU
  kernel took 3.7 ms against 0.85 ms for the ops it replaces (2 × 256 × 384);
- the few feed-forward channels whose activations are outliers (one channel reaching ~25
  where the others stay under ~6, in early layers) get their own small MatMuls kept in
  fp32, so the per-tensor int8 scale of the second feed-forward MatMul fits the rest.
"""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from .bert_graph import OPSET, _embeddings, _gelu, _Graph, _strip_prefix, position_pad
from .safetensors_reader import read_safetensors


@dataclass
class Int8ReadyGraph:
    """The model, the nodes to leave in fp32, and each layer's feed-forward activation
    (the GELU output that the second feed-forward MatMul reads), for calibration."""

    model: onnx.ModelProto
    fp32_nodes: list[str] = field(default_factory=list)
    ffn_activations: list[str] = field(default_factory=list)


def build_int8_ready_bert(model_dir: Path, outliers: dict[int, list[int]] | None = None,
                          cls_only: bool = False) -> Int8ReadyGraph:
    """The graph of the BERT checkpoint in `model_dir`, with the feed-forward channels
    `outliers[layer]` split out into fp32 MatMuls (none when `outliers` is None). With
    `cls_only` the last layer computes only the [CLS] row (last_hidden_state is
    [batch, 1, hidden]), for a head that reads only that row: its keys and values still
    come from every token. (Packing the three projections into one MatMul was measured and
    dropped: the quantizer already shares their activation quantization, and the Split
    cost more than the wider GEMM saved.)"""
    config = json.loads((model_dir / "config.json").read_text())
    w = _strip_prefix(read_safetensors(model_dir / "model.safetensors"))
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    eps = float(config.get("layer_norm_eps", 1e-12))
    g, out = _Graph(), Int8ReadyGraph(model=None)
    g.const("f_one", np.array(1.0, np.float32))  # _gelu's 1

    def weight(prefix: str, scale: float = 1.0, cols=None) -> str:
        matrix = w[prefix + ".weight"].T * np.float32(scale)
        name = prefix + ".weight" if cols is None else f"{prefix}.weight.{len(cols)}-{int(cols[0])}"
        return g.const(name, np.ascontiguousarray(matrix if cols is None else matrix[:, cols]))

    def bias(prefix: str, scale: float = 1.0, cols=None) -> str:
        vector = w[prefix + ".bias"] * np.float32(scale)
        return g.const(prefix + ".bias" if cols is None else f"{prefix}.bias.{len(cols)}-{int(cols[0])}",
                       vector if cols is None else vector[cols])

    def linear(x: str, prefix: str, scale: float = 1.0) -> str:
        return g.op("Add", g.op("MatMul", x, weight(prefix, scale)), bias(prefix, scale))

    def layer_norm(x: str, prefix: str) -> str:
        gamma = g.const(prefix + ".weight", w[prefix + ".weight"])
        beta = g.const(prefix + ".bias", w[prefix + ".bias"])
        return g.op("LayerNormalization", x, gamma, beta, axis=-1, epsilon=eps)

    x = _embeddings(g, w, layer_norm, position_pad(config))
    mask = g.op("Cast", "attention_mask", to=TensorProto.INT32)
    unpadded = g.op("Equal", g.op("ReduceMin", "attention_mask", keepdims=0), g.const("i_one", np.array(1, np.int64)))
    scale = 1.0 / math.sqrt(hidden // heads)  # folded into the query projection, as in bert_graph
    layers = config["num_hidden_layers"]
    for i in range(layers):
        p = f"encoder.layer.{i}."
        projections = ("query", scale), ("key", 1.0), ("value", 1.0)
        if cls_only and i == layers - 1:  # keys and values from every row, the query from [CLS]'s
            k, v = (linear(x, p + "attention.self." + name, s) for name, s in projections[1:])
            x = g.op("Slice", x, g.const("cls_start", np.array([0], np.int64)),
                     g.const("cls_end", np.array([1], np.int64)), g.const("cls_axis", np.array([1], np.int64)))
            q = linear(x, p + "attention.self.query", scale)
        else:
            q, k, v = (linear(x, p + "attention.self." + name, s) for name, s in projections)
        context = _attention(g, q, k, v, mask, unpadded, heads)
        dense = p + "attention.output.dense"
        x = layer_norm(g.op("Sum", g.op("MatMul", context, weight(dense)), bias(dense), x),
                       p + "attention.output.LayerNorm")
        x = layer_norm(_feed_forward(g, x, p, w, (outliers or {}).get(i, []), weight, bias, out),
                       p + "output.LayerNorm")
    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    for node in g.nodes:  # the quantizer picks nodes to exclude by name
        node.name = node.output[0]
    out.model = _model(g, hidden)
    return out


def _attention(g: _Graph, q: str, k: str, v: str, mask: str, unpadded: str, heads: int) -> str:
    """MultiHeadAttention over q, k, v (scale already folded into q), masked only when
    the batch has padding: an If on `unpadded` picks the branch."""
    branches = {}
    for label, inputs in (("plain", [q, k, v]), ("masked", [q, k, v, "", mask])):
        out = f"{q}_{label}"
        node = helper.make_node("MultiHeadAttention", inputs, [out], name=out, num_heads=heads, scale=1.0,
                                domain="com.microsoft")
        value = helper.make_tensor_value_info(out, TensorProto.FLOAT, None)
        branches[label] = helper.make_graph([node], out, [], [value])
    return g.op("If", unpadded, then_branch=branches["plain"], else_branch=branches["masked"])


def _feed_forward(g: _Graph, x: str, p: str, w: dict, outlier_cols: list[int], weight, bias,
                  out: Int8ReadyGraph) -> str:
    """Sum(GELU(x·W1 + b1)·W2, b2, x), with the `outlier_cols` of the inner layer in fp32."""
    inner, outer = p + "intermediate.dense", p + "output.dense"
    width = w[inner + ".bias"].shape[0]
    keep = np.setdiff1d(np.arange(width), outlier_cols)
    full = len(outlier_cols) == 0
    act = _gelu(g, g.op("Add", g.op("MatMul", x, weight(inner, cols=None if full else keep)),
                        bias(inner, cols=None if full else keep)))
    out.ffn_activations.append(act)
    w2 = w[outer + ".weight"].T  # (inner, hidden)
    terms = [g.op("MatMul", act, g.const(outer + ".weight", np.ascontiguousarray(w2)) if full
                  else g.const(f"{outer}.weight.kept", np.ascontiguousarray(w2[keep])))]
    if not full:
        cols = np.asarray(outlier_cols)
        first = g.op("MatMul", x, weight(inner, cols=cols))
        side = _gelu(g, g.op("Add", first, bias(inner, cols=cols)))
        second = g.op("MatMul", side, g.const(f"{outer}.weight.outliers", np.ascontiguousarray(w2[cols])))
        out.fp32_nodes += [first, second]
        terms.append(second)
    return g.op("Sum", *terms, bias(outer), x)


def _model(g: _Graph, hidden: int) -> onnx.ModelProto:
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
              for n in ("input_ids", "attention_mask", "token_type_ids")]
    output = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", hidden])
    graph = helper.make_graph(g.nodes, "bert_int8_ready", inputs, [output], g.inits)
    opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="embkit")
    model.ir_version = 8
    return model
