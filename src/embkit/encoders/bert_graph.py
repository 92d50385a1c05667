"""Build an ONNX graph of a BERT encoder straight from its safetensors weights.

This is how embkit runs the packaged all-MiniLM-L6-v2 without torch: the graph is the
textbook BERT forward pass (the same ops torch's exporter emits), and onnxruntime
fuses GELU and layer norms at load. The result is exact to float32 rounding.

With `unpadded_attention`, a batch without padding (every mask 1: length-sorted batches
of texts cut at the same length, such as abstracts at 256 tokens) runs each layer's
attention as one onnxruntime MultiHeadAttention node without a mask, which takes its
flash-attention path (no Transposes, no mask Add, no separate Softmax pass): 7% less CPU
a token on SciFact abstracts. A padded batch runs the textbook ops as before; an If on
the mask picks the branch, so both share one copy of the weights.
"""

import json
import math
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..errors import EmbkitError
from .safetensors_reader import read_safetensors

OPSET = 17


APART_BYTES = 1024  # initializers this large go to the weights file (onnx.save_model's size_threshold)


class _Graph:
    """A small helper that names nodes and collects initializers. With `weights` (a file,
    created here), each initializer of APART_BYTES or more is appended to that file as it
    is made (ONNX external data, located by the file's name): the build then never holds
    a second copy of the checkpoint, nor serializes one."""

    def __init__(self, weights: Path | None = None):
        self.nodes, self.inits, self._n, self._names = [], [], 0, set()
        self._weights = weights
        if weights is not None:
            weights.write_bytes(b"")

    def const(self, name: str, array) -> str:
        """An initializer; a name already given is reused (shared constants)."""
        if name not in self._names:
            self._names.add(name)
            array = np.asarray(array)
            if self._weights is None or array.nbytes < APART_BYTES:
                self.inits.append(numpy_helper.from_array(array, name))
            else:
                self.inits.append(self._apart(np.ascontiguousarray(array), name))
        return name

    def _apart(self, array: np.ndarray, name: str) -> TensorProto:
        """`array` appended to the weights file; the tensor that points at its bytes
        (the bytes numpy_helper.from_array would hold: little-endian, row-major)."""
        tensor = TensorProto(name=name, dims=array.shape, data_type=helper.np_dtype_to_tensor_dtype(array.dtype))
        with open(self._weights, "ab") as file:
            offset = file.tell()
            array.astype(array.dtype.newbyteorder("<"), copy=False).tofile(file)
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in (("location", self._weights.name), ("offset", offset), ("length", array.nbytes)):
            tensor.external_data.add(key=key, value=str(value))
        return tensor

    def op(self, op_type: str, *inputs: str, **attrs) -> str:
        self._n += 1
        out = f"{op_type.lower()}_{self._n}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out


MODEL_TYPES = ("bert", "xlm-roberta", "roberta")  # one layer layout; RoBERTa's differ only in positions


def _strip_prefix(weights: dict) -> dict:
    """Accept `embeddings.…`, `bert.embeddings.…` and `roberta.embeddings.…` checkpoints,
    and LayerNorm weights under their old names `gamma`/`beta` (which some transformers
    versions still save)."""
    if "embeddings.word_embeddings.weight" not in weights:
        prefix = next((p for p in ("bert.", "roberta.") if p + "embeddings.word_embeddings.weight" in weights), "")
        weights = {k[len(prefix):]: v for k, v in weights.items() if prefix and k.startswith(prefix)}
    renamed = {".gamma": ".weight", ".beta": ".bias"}
    return _Weights({next((k[:-len(old)] + new for old, new in renamed.items() if "LayerNorm" in k and k.endswith(old)),
                          k): v for k, v in weights.items()})


class _Weights(dict):
    """Tensors by name; one the graph needs and the checkpoint lacks is named in one line
    (under another prefix, or fewer layers than config.json says), not a KeyError."""

    def __missing__(self, name: str):
        raise EmbkitError(f"model: model.safetensors has no tensor {name!r} (a BERT, RoBERTa or XLM-RoBERTa "
                          "checkpoint, its names bare or under bert. or roberta., as config.json describes it)")


def build_bert_onnx(model_dir: Path, unpadded_attention: bool = False, weights: Path | None = None) -> onnx.ModelProto:
    """The ONNX model (inputs input_ids, attention_mask, token_type_ids; output
    last_hidden_state) of the BERT, RoBERTa or XLM-RoBERTa checkpoint in `model_dir`; with
    `unpadded_attention` an unpadded batch's attention is onnxruntime's fused node (a
    com.microsoft op); with `weights`, its weights are written to that file as they are
    made (save the model beside it), not held inside the model."""
    config = json.loads((model_dir / "config.json").read_text())
    check_config(model_dir, config)
    w = _strip_prefix(read_safetensors(model_dir / "model.safetensors"))
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    eps = float(config.get("layer_norm_eps", 1e-12))
    g = _Graph(weights)

    def linear(x: str, prefix: str, scale: float = 1.0) -> str:
        weight = g.const(prefix + ".weight", np.ascontiguousarray(w[prefix + ".weight"].T * np.float32(scale)))
        bias = g.const(prefix + ".bias", w[prefix + ".bias"] * np.float32(scale))
        return g.op("Add", g.op("MatMul", x, weight), bias)

    def layer_norm(x: str, prefix: str) -> str:
        gamma = g.const(prefix + ".weight", w[prefix + ".weight"])
        beta = g.const(prefix + ".bias", w[prefix + ".bias"])
        return g.op("LayerNormalization", x, gamma, beta, axis=-1, epsilon=eps)

    x = _embeddings(g, w, layer_norm, position_pad(config))
    mask_bias = _mask_bias(g)
    split_heads = g.const("split_heads", np.array([0, 0, heads, hidden // heads], np.int64))
    merge_heads = g.const("merge_heads", np.array([0, 0, hidden], np.int64))
    # 1/sqrt(head size) is folded into the query projection: one less pass over the
    # [batch, heads, seq, seq] scores, which dominate at long sequences.
    scale = 1.0 / math.sqrt(hidden // heads)
    unpadded = g.op("Equal", g.op("ReduceMin", "attention_mask", keepdims=0),
                    g.const("i_one", np.array(1, np.int64))) if unpadded_attention else None
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        qkv = [linear(x, p + "attention.self.query", scale), linear(x, p + "attention.self.key"),
               linear(x, p + "attention.self.value")]
        if unpadded is None:
            context = _masked_attention(g, *qkv, mask_bias, split_heads, merge_heads)
        else:
            context = _attention_by_padding(g, qkv, unpadded, mask_bias, split_heads, merge_heads, heads)
        x = layer_norm(g.op("Add", linear(context, p + "attention.output.dense"), x), p + "attention.output.LayerNorm")
        inner = _gelu(g, linear(x, p + "intermediate.dense"))
        x = layer_norm(g.op("Add", linear(inner, p + "output.dense"), x), p + "output.LayerNorm")
    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))

    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
              for n in ("input_ids", "attention_mask", "token_type_ids")]
    output = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", hidden])
    graph = helper.make_graph(g.nodes, "bert", inputs, [output], g.inits)
    opsets = [helper.make_opsetid("", OPSET)]
    if unpadded_attention:
        opsets.append(helper.make_opsetid("com.microsoft", 1))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="embkit")
    model.ir_version = 8
    if weights is None:  # else checked once saved: the checker finds the weights file beside the model
        onnx.checker.check_model(model)
    return model


def _masked_attention(g: _Graph, q: str, k: str, v: str, mask_bias: str, split_heads: str, merge_heads: str) -> str:
    """Softmax(q·kᵀ + mask_bias)·v over heads, from and to [batch, sequence, hidden]
    (the 1/√d scale is in q already)."""
    q = g.op("Transpose", g.op("Reshape", q, split_heads), perm=[0, 2, 1, 3])
    k = g.op("Transpose", g.op("Reshape", k, split_heads), perm=[0, 2, 3, 1])
    v = g.op("Transpose", g.op("Reshape", v, split_heads), perm=[0, 2, 1, 3])
    scores = g.op("Add", g.op("MatMul", q, k), mask_bias)
    context = g.op("MatMul", g.op("Softmax", scores, axis=-1), v)
    return g.op("Reshape", g.op("Transpose", context, perm=[0, 2, 1, 3]), merge_heads)


def _attention_by_padding(g: _Graph, qkv: list[str], unpadded: str, mask_bias: str, split_heads: str,
                          merge_heads: str, heads: int) -> str:
    """An If on `unpadded`: MultiHeadAttention without a mask (its flash-attention path)
    when no row is padded, else the masked textbook ops. The branches read q, k, v and
    the constants from the outer graph and share its node counter (names stay unique)."""
    fused = f"attention_{g._n}_fused"
    then_graph = helper.make_graph(
        [helper.make_node("MultiHeadAttention", qkv, [fused], domain="com.microsoft", num_heads=heads, scale=1.0)],
        fused, [], [helper.make_tensor_value_info(fused, TensorProto.FLOAT, None)])
    branch = _Graph()
    branch._n = g._n
    masked = _masked_attention(branch, *qkv, mask_bias, split_heads, merge_heads)
    g._n = branch._n
    else_graph = helper.make_graph(branch.nodes, masked + "_masked", [],
                                   [helper.make_tensor_value_info(masked, TensorProto.FLOAT, None)])
    return g.op("If", unpadded, then_branch=then_graph, else_branch=else_graph)


def check_config(model_dir: Path, config: dict) -> None:
    """Refuse, naming the field, a checkpoint whose forward pass this graph does not compute
    (or whose config.json lacks what the graph is built from)."""
    if not isinstance(config, dict):
        raise ValueError(f"{model_dir}: config.json must hold a JSON object")
    if config.get("model_type") not in MODEL_TYPES:
        raise ValueError(f"{model_dir}: model_type {config.get('model_type')!r} is not supported "
                         f"(supported: {', '.join(MODEL_TYPES)})")
    if config.get("hidden_act", "gelu") != "gelu":
        raise ValueError(f"{model_dir}: hidden_act {config['hidden_act']!r} is not supported (only 'gelu')")
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(f"{model_dir}: position_embedding_type {config['position_embedding_type']!r} "
                         "is not supported (only 'absolute')")
    for key in ("hidden_size", "num_attention_heads", "num_hidden_layers"):
        if not _whole(config.get(key), 1):
            raise ValueError(f"{model_dir}: config.json {key} must be a whole number of at least 1, "
                             f"got {config.get(key)!r}")
    if config["hidden_size"] % config["num_attention_heads"]:
        raise ValueError(f"{model_dir}: config.json hidden_size {config['hidden_size']} is not a multiple of "
                         f"num_attention_heads {config['num_attention_heads']}")
    if config["model_type"] != "bert" and not _whole(config.get("pad_token_id", 1), 0):
        raise ValueError(f"{model_dir}: config.json pad_token_id must be a whole number of at least 0 "
                         f"(RoBERTa numbers positions from it), got {config['pad_token_id']!r}")


def _whole(value, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def position_pad(config: dict) -> int | None:
    """RoBERTa's padding index, from which it numbers positions (transformers'
    create_position_ids_from_input_ids); None for BERT, which numbers them from 0."""
    return int(config.get("pad_token_id", 1)) if config.get("model_type") in ("roberta", "xlm-roberta") else None


def _embeddings(g: _Graph, w: dict, layer_norm, pad: int | None = None) -> str:
    """Word + token type + position embeddings, layer-normed. BERT's positions are 0, 1, …;
    with `pad` (RoBERTa) a real token's position is pad + 1 + its index among the real
    tokens and a padding token's is pad, exactly as transformers numbers them."""
    words = g.op("Gather", g.const("word_embeddings", w["embeddings.word_embeddings.weight"]), "input_ids")
    types = g.op("Gather", g.const("token_type_embeddings", w["embeddings.token_type_embeddings.weight"]),
                 "token_type_ids")
    one = g.const("one", np.array(1, np.int64))
    if pad is None:
        length = g.op("Gather", g.op("Shape", "input_ids"), one, axis=0)
        positions = g.op("Range", g.const("zero", np.array(0, np.int64)), length, one)
    else:
        pad_id = g.const("pad_id", np.array(pad, np.int64))
        real = g.op("Cast", g.op("Not", g.op("Equal", "input_ids", pad_id)), to=TensorProto.INT64)
        positions = g.op("Add", g.op("Mul", g.op("CumSum", real, one), real), pad_id)
    pos = g.op("Gather", g.const("position_embeddings", w["embeddings.position_embeddings.weight"]), positions)
    return layer_norm(g.op("Add", g.op("Add", words, types), pos), "embeddings.LayerNorm")


def _mask_bias(g: _Graph) -> str:
    """(1 - mask) * -10000, shaped [batch, 1, 1, sequence], added to attention scores."""
    mask = g.op("Cast", "attention_mask", to=TensorProto.FLOAT)
    inverted = g.op("Sub", g.const("f_one", np.array(1.0, np.float32)), mask)
    bias = g.op("Mul", inverted, g.const("neg_large", np.array(-10000.0, np.float32)))
    return g.op("Unsqueeze", bias, g.const("axes_1_2", np.array([1, 2], np.int64)))


def _gelu(g: _Graph, x: str) -> str:
    """Exact (erf) GELU, as BERT uses: 0.5·x·(1 + erf(x/√2))."""
    erf = g.op("Erf", g.op("Div", x, g.const("sqrt2", np.array(math.sqrt(2.0), np.float32))))
    half_x = g.op("Mul", x, g.const("half", np.array(0.5, np.float32)))
    return g.op("Mul", half_x, g.op("Add", erf, "f_one"))
