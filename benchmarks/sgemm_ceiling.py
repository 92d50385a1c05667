"""The machine's compute ceiling for fp32 encoders: onnxruntime's own sgemm (MLAS) rate,
and the work a BERT encoder does on given token counts, so a benchmark can say how
close each side gets. Measured on the shape of MiniLM's largest MatMul (a 512-token
batch times its 384 × 1536 feed-forward weight)."""

import time

import numpy as np

SHAPE = (512, 384, 1536)  # tokens in a batch, hidden, intermediate


def sgemm_gflops(threads: int, shape: tuple[int, int, int] = SHAPE, repeats: int = 40) -> float:
    """Best GFLOP/s (wall clock) of one onnxruntime fp32 MatMul of `shape` on `threads`
    threads; the row count grows with the threads so each thread has a 512-row share.
    The best single call, so a busy machine's quiet moments still show the ceiling."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    m, k, n = shape[0] * threads, shape[1], shape[2]
    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.standard_normal((k, n), dtype=np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "sgemm",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [m, k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    x = rng.standard_normal((m, k), dtype=np.float32)
    session.run(None, {"x": x})
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, {"x": x})
        best = min(best, time.perf_counter() - start)
    return 2 * m * k * n / best / 1e9


def bert_flops(token_counts: list[int], layers: int, hidden: int, intermediate: int) -> float:
    """Floating-point operations (2 per multiply-add) of a BERT encoder's MatMuls over
    texts of `token_counts` tokens without padding: the projections and feed-forward
    (linear in tokens) and the attention scores and context (quadratic)."""
    n = np.asarray(token_counts, dtype=np.float64)
    linear = 2 * n * (4 * hidden * hidden + 2 * hidden * intermediate)
    attention = 4 * n * n * hidden
    return float(layers * (linear + attention).sum())
