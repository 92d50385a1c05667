"""The hardware ceiling for the reranker on one core: how fast could any scorer of the same
model, doing the same arithmetic, go here, and how far is each side from it.

Measured, each in its own process with one thread:
- fp32 GEMM peak: onnxruntime's MatMul (MLAS sgemm) and numpy's at the reranker's largest
  shape (a batch of 128-token pairs times the 384 x 1536 feed-forward weight);
- int8 GEMM peak: MatMulIntegerToFloat (uint8 activations already quantized, int8 weights
  prepacked: the GEMM alone) and DynamicQuantizeMatMul (the op the int8 reranker runs:
  activations quantized in the call) at the same shapes;
- bf16: whether onnxruntime's CPU provider runs a bfloat16 MatMul at all, and how fast;
- torch: CrossEncoder.predict's thread-CPU time a pair, hence its GFLOP/s on the model;
- each ONNX variant's time a pair by operator type (onnxruntime's profiler), split into
  matrix multiplies (MatMul, Gemm, DynamicQuantizeMatMul, MatMulIntegerToFloat, the
  attention node) and the rest.
From these: the most any scorer could do over torch with the matrix multiplies at peak
and the rest taking no time at all (a hard upper bound), and with the rest as measured.

    EMBKIT_HOME=/tmp/rhome env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python \
        benchmarks/rerank_ceiling.py --reranker DIR [--tokens 128] [--out ceiling.json]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
MATMUL_OPS = {"MatMul", "Gemm", "FusedMatMul", "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "MatMulInteger",
              "QGemm", "QLinearMatMul"}
ATTENTION_OPS = {"MultiHeadAttention", "Attention"}


def _session(model, threads: int = 1):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.log_severity_level = 3  # the unused-initializer notes of the shared constants
    data = model if isinstance(model, (bytes, str)) else model.SerializeToString()
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def _best(fn, seconds: float = 1.5) -> float:
    """The best wall time of one call of `fn` over about `seconds` of calls: a busy
    machine's quiet moments still show the ceiling (wall, not thread-CPU time: in this
    VM a thread's CPU clock gave rates above the core's FMA peak on a loaded host)."""
    fn()
    best, stop = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < stop:
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def gemm_peaks(m: int, k: int, n: int) -> dict:
    """GOP/s (2 per multiply-add) of one m x k · k x n product on one thread: fp32 numpy,
    fp32 onnxruntime, int8 (MatMulIntegerToFloat, DynamicQuantizeMatMul), bf16 if any."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    w = rng.standard_normal((k, n), dtype=np.float32)
    ops = 2.0 * m * k * n
    out = {"shape": [m, k, n], "numpy_fp32": ops / _best(lambda: a @ w) / 1e9}

    def model(nodes, inputs, inits, opsets=(("", 17), ("com.microsoft", 1))):
        graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                                  inits)
        made = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
        made.ir_version = 8
        return made

    x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, [m, k])
    fp32 = _session(model([helper.make_node("MatMul", ["x", "w"], ["y"])], [x_info],
                          [numpy_helper.from_array(w, "w")]))
    out["onnxruntime_fp32"] = ops / _best(lambda: fp32.run(None, {"x": a})) / 1e9

    w_scale = np.abs(w).max(axis=0) / 127
    w_q = np.clip(np.round(w / w_scale), -127, 127).astype(np.int8)
    inits = [numpy_helper.from_array(w_q, "wq"), numpy_helper.from_array(w_scale.astype(np.float32), "ws"),
             numpy_helper.from_array(np.zeros(n, np.int8), "wz"), numpy_helper.from_array(np.float32(0.02), "as"),
             numpy_helper.from_array(np.uint8(128), "az")]
    a_q = rng.integers(0, 256, (m, k), dtype=np.uint8)
    aq_info = helper.make_tensor_value_info("aq", TensorProto.UINT8, [m, k])
    integer = _session(model([helper.make_node("MatMulIntegerToFloat", ["aq", "wq", "as", "ws", "az", "wz"], ["y"],
                                               domain="com.microsoft")], [aq_info], inits))
    out["int8_gemm_only"] = ops / _best(lambda: integer.run(None, {"aq": a_q})) / 1e9
    dynamic = _session(model([helper.make_node("DynamicQuantizeMatMul", ["x", "wq", "ws", "wz"], ["y"],
                                               domain="com.microsoft")], [x_info], inits))
    out["int8_dynamic_quantize_matmul"] = ops / _best(lambda: dynamic.run(None, {"x": a})) / 1e9
    try:  # bfloat16 in, bfloat16 out: is there a CPU kernel at all?
        xb = helper.make_tensor_value_info("xb", TensorProto.BFLOAT16, [m, k])
        wb = helper.make_tensor("wb", TensorProto.BFLOAT16, [k, n], _bf16_bits(w).tobytes(), raw=True)
        nodes = [helper.make_node("MatMul", ["xb", "wb"], ["yb"]), helper.make_node("Cast", ["yb"], ["y"], to=1)]
        bf16 = _session(model(nodes, [xb], [wb]))
        from onnxruntime import OrtValue

        value = OrtValue.ortvalue_from_numpy_with_onnx_type(_bf16_bits(a).view(np.uint16), TensorProto.BFLOAT16)
        out["bf16"] = ops / _best(lambda: bf16.run_with_ort_values(None, {"xb": value})) / 1e9
    except Exception as error:  # noqa: BLE001 - the answer is the error's first line
        out["bf16"] = f"not run: {str(error).splitlines()[0][:160]}"
    return {key: round(value, 1) if isinstance(value, float) else value for key, value in out.items()}


def _bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 to bfloat16 bit patterns (round to nearest even), as uint16."""
    bits = x.astype(np.float32).view(np.uint32)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def _pair_feeds(pairs: int, tokens: int) -> dict:
    """`pairs` unpadded pairs of `tokens` tokens: [CLS] query(16) [SEP] text [SEP]."""
    rng = np.random.default_rng(1)
    ids = rng.integers(1000, 29000, (pairs, tokens), dtype=np.int64)
    ids[:, 0], ids[:, 17], ids[:, -1] = 101, 102, 102
    types = np.zeros_like(ids)
    types[:, 18:] = 1
    return {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": types}


def torch_seconds_per_pair(folder: Path, tokens: int, pairs: int = 20) -> float:
    import torch
    from transformers import AutoModelForSequenceClassification

    torch.set_num_threads(1)
    model = AutoModelForSequenceClassification.from_pretrained(str(folder), local_files_only=True).eval()
    feeds = {k: torch.from_numpy(v) for k, v in _pair_feeds(pairs, tokens).items()}
    with torch.inference_mode():
        model(**feeds)
        times = []
        for _ in range(8):  # thread-CPU time, as bench_rerank.py counts torch: a shared machine's waits left out
            start = time.thread_time()
            model(**feeds)
            times.append(time.thread_time() - start)
    return float(np.median(times)) / pairs


def profile_by_op(onnx_path: Path, tokens: int, pairs_per_run: int, runs: int = 30) -> dict:
    """Milliseconds a pair by operator type, from onnxruntime's profiler (one thread)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
    options.enable_profiling = True
    options.profile_file_prefix = f"/tmp/rerank-ceiling-{os.getpid()}"
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    feeds = _pair_feeds(pairs_per_run, tokens)
    for _ in range(5):
        session.run(None, feeds)
    start = time.thread_time()
    for _ in range(runs):
        session.run(None, feeds)
    wall_per_pair = (time.thread_time() - start) / runs / pairs_per_run
    trace = Path(session.end_profiling())
    events = json.loads(trace.read_text())
    trace.unlink()
    by_op: dict[str, float] = {}
    for event in events:  # warm-up runs too: the same work, so the same shares
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            op = event["args"]["op_name"]
            if op == "If":  # its time is its branch's nodes', which are listed themselves
                continue
            by_op[op] = by_op.get(op, 0.0) + event["dur"]
    total = sum(by_op.values()) or 1.0
    scale = wall_per_pair * 1e3 / total  # profiler microseconds to thread-CPU ms a pair
    ms = {op: round(us * scale, 3) for op, us in sorted(by_op.items(), key=lambda kv: -kv[1])}
    matmul = sum(v for op, v in ms.items() if op in MATMUL_OPS)
    attention = sum(v for op, v in ms.items() if op in ATTENTION_OPS)
    return {"ms_per_pair": round(wall_per_pair * 1e3, 3), "matmul_ms": round(matmul, 3),
            "attention_ms": round(attention, 3), "rest_ms": round(wall_per_pair * 1e3 - matmul - attention, 3),
            "by_op_ms": ms}


def model_flops(folder: Path, tokens: int) -> dict:
    """GFLOP a pair (2 per multiply-add): the weight products and the attention products,
    for the whole model (torch) and with the last layer on the [CLS] row (the ONNX export)."""
    config = json.loads((folder / "config.json").read_text())
    h, inner, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    per_layer_linear = 2 * tokens * (4 * h * h + 2 * h * inner)
    per_layer_attention = 4 * tokens * tokens * h
    last_cls = 2 * tokens * 2 * h * h + 2 * (2 * h * h + 2 * h * inner) + 4 * tokens * h  # k, v of all; rest of 1
    head = 2 * (h * h + h)
    return {"full": (layers * (per_layer_linear + per_layer_attention) + head) / 1e9,
            "linear_full": layers * per_layer_linear / 1e9,
            "cls_only": ((layers - 1) * (per_layer_linear + per_layer_attention) + last_cls + head) / 1e9,
            "linear_cls_only": ((layers - 1) * per_layer_linear + 2 * tokens * 2 * h * h
                                + 2 * (2 * h * h + 2 * h * inner)) / 1e9}


def _in_child(task: str, args) -> dict:
    env = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(Path(__file__).parent)}
    command = [sys.executable, __file__, "--task", task, "--reranker", str(args.reranker), "--tokens",
               str(args.tokens), "--pairs", str(args.pairs)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{task} failed: {done.stderr.strip().splitlines()[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child(task: str, args) -> dict:
    from embkit.encoders.cross_encoder_export import cross_encoder_onnx

    if task == "gemm":
        rows = args.pairs * args.tokens
        return {"ffn1": gemm_peaks(rows, 384, 1536), "ffn1_one_pair": gemm_peaks(args.tokens, 384, 1536),
                "ffn2_one_pair": gemm_peaks(args.tokens, 1536, 384)}
    if task == "torch":
        return {"seconds_per_pair": torch_seconds_per_pair(args.reranker, args.tokens)}
    variant, per_run = task.split("-")
    return profile_by_op(cross_encoder_onnx(args.reranker, variant), args.tokens, int(per_run))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reranker", type=Path, required=True)
    parser.add_argument("--tokens", type=int, default=128, help="Tokens a pair (unpadded).")
    parser.add_argument("--pairs", type=int, default=20, help="Pairs a batch (the top-20 rerank).")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--task")
    args = parser.parse_args()
    if args.task:
        print(json.dumps(child(args.task, args)))
        return
    from machine_info import machine

    flops = model_flops(args.reranker, args.tokens)
    report = {"tokens": args.tokens, "gflop_per_pair": {k: round(v, 3) for k, v in flops.items()},
              "gemm": _in_child("gemm", args), "torch": _in_child("torch", args)}
    for task in ("fp32-1", f"fp32-{args.pairs}", "int8-1", f"int8-{args.pairs}"):
        report[f"onnx_{task}"] = _in_child(task, args)
    torch_s = report["torch"]["seconds_per_pair"]
    shapes = report["gemm"].values()  # the best shape's rate is the core's: the others lose to cache or size
    fp32_peak = max(max(shape["numpy_fp32"], shape["onnxruntime_fp32"]) for shape in shapes)
    int8_peak = max(shape["int8_gemm_only"] for shape in shapes)
    report["peaks_gops"] = {"fp32": fp32_peak, "int8": int8_peak, "int8_over_fp32": round(int8_peak / fp32_peak, 2)}
    report["torch"].update({"pairs_per_s": round(1 / torch_s, 2),
                            "gflops": round(flops["full"] / torch_s, 1),
                            "fraction_of_fp32_peak": round(flops["full"] / torch_s / fp32_peak, 3)})
    attention_gflop = flops["cls_only"] - flops["linear_cls_only"]
    fp32_floor = flops["cls_only"] / fp32_peak  # every product at the fp32 peak, nothing else costs
    int8_weights = flops["linear_cls_only"] / int8_peak
    int8_floor = int8_weights + attention_gflop / fp32_peak  # attention's products stay fp32
    best = min((report[f"onnx_int8-{n}"] for n in (1, args.pairs)), key=lambda r: r["ms_per_pair"])
    report["ceiling"] = {
        "budget_ms_per_pair_for_8x": round(torch_s / 8 * 1e3, 2),
        "int8_weight_products_at_peak_ms": round(int8_weights * 1e3, 2),
        "fp32_all_products_at_peak_x_torch": round(torch_s / fp32_floor, 2),
        "int8_products_at_peak_nothing_else_x_torch": round(torch_s / int8_floor, 2),
        "int8_products_at_peak_rest_as_measured_x_torch": round(torch_s / (int8_floor + best["rest_ms"] / 1e3), 2),
        "int8_now_x_torch": round(torch_s / (best["ms_per_pair"] / 1e3), 2),
        "fp32_now_x_torch": round(torch_s / (min(report[f"onnx_fp32-{n}"]["ms_per_pair"]
                                                 for n in (1, args.pairs)) / 1e3), 2)}
    report["machine"] = machine(["onnxruntime", "torch", "numpy"])
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
