"""The sequence-classification head a BERT cross-encoder puts on its encoder
(`BertForSequenceClassification`: the [CLS] vector through the pooler, dense + tanh, and
the classifier, dense to one logit): read from the folder's safetensors and attached to
an ONNX encoder graph. Shared by the fp32 export and the int8 variant."""

from pathlib import Path

import numpy as np

from ..errors import EmbkitError

HEAD_NODES = ("head_pool_mm", "head_logit_mm")  # the head's MatMuls (kept fp32 by the int8 variant)


def head_weights(folder: Path) -> dict:
    """The pooler and classifier weights of the sequence classifier in `folder`, refused
    in one line when missing or when it has more than one label."""
    from .safetensors_reader import read_safetensors

    weights = read_safetensors(folder / "model.safetensors")
    head = {name: weights.get(name) for name in ("bert.pooler.dense.weight", "bert.pooler.dense.bias",
                                                 "classifier.weight", "classifier.bias")}
    missing = [name for name, value in head.items() if value is None]
    if missing:
        raise EmbkitError(f"reranker: {folder} has no {', '.join(missing)} (not a BERT sequence classifier)")
    if head["classifier.weight"].shape[0] != 1:
        raise EmbkitError(f"reranker: {folder} has {head['classifier.weight'].shape[0]} labels; "
                          "a reranker needs a cross-encoder with one (num_labels=1)")
    return head


def attach_head(graph, head: dict) -> None:
    """Replace `graph`'s output last_hidden_state by the head's logits [batch, 1]: the
    [CLS] vector through the pooler (dense + tanh) and the classifier (dense)."""
    from onnx import TensorProto, helper, numpy_helper

    (last,) = [node for node in graph.node if list(node.output) == ["last_hidden_state"]]
    graph.node.remove(last)
    states = last.input[0]

    def const(name, array):
        graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def node(op, inputs, output, **attrs):  # named by its output: the quantizer excludes nodes by name
        graph.node.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    graph.initializer.append(numpy_helper.from_array(np.array(0, np.int64), "head_cls_index"))
    cls = node("Gather", [states, "head_cls_index"], "head_cls", axis=1)  # [batch, hidden]
    pooled = node("MatMul", [cls, const("head_pooler_w", head["bert.pooler.dense.weight"].T)], HEAD_NODES[0])
    pooled = node("Tanh", [node("Add", [pooled, const("head_pooler_b", head["bert.pooler.dense.bias"])],
                                "head_pool_add")], "head_pooled")
    logits = node("MatMul", [pooled, const("head_cls_w", head["classifier.weight"].T)], HEAD_NODES[1])
    node("Add", [logits, const("head_cls_b", head["classifier.bias"])], "logits")
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1]))
