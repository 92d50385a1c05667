"""Growth benchmark (issue 21): what a collection costs as it grows from 10k to 1M short
documents, embkit beside Chroma. Full run (the figures in results/growth.md):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE EMBKIT_HOME=/tmp/bench-ehome \\
        .venv/bin/python benchmarks/bench_growth.py

Quick run (a couple of minutes): `... bench_growth.py --sizes 2000,10000 --out /tmp/growth-quick`.
The two OPENBLAS variables are unset for every side alike (the command's environment
passes unchanged to every worker); the script sets none.

For each size: documents (benchmarks/short_texts.py: pairs of SciFact sentences) with
metadata {"source", "bucket": i mod 100} and vectors from the distilled static MiniLM
(model2vec, 384-d, built once under EMBKIT_HOME/bench/), and from MiniLM itself at the
`--minilm-sizes`. Every phase runs in its own process: embkit build (ingest), embkit serve
(a cold open, then searches), Chroma build, Chroma serve (same texts, metadata and
vectors; Chroma at the `--chroma-sizes`, each build stopped after `--chroma-timeout`).
Writes OUT.json, OUT.md and OUT.png (log-log cost against size); OUT defaults to
benchmarks/results/growth."""

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import growth_data as data  # noqa: E402
import growth_report as report  # noqa: E402
import numpy as np  # noqa: E402
from growth_measure import recall_at_10  # noqa: E402
from machine_info import machine  # noqa: E402

SIDES = {"embkit": HERE / "growth_embkit.py", "chroma": HERE / "growth_chroma.py"}


def run_phase(side: str, phase: str, spec: dict, timeout: float | None) -> dict:
    """One phase of one side in its own process; its JSON line, or why it has none."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, str(SIDES[side]), phase, json.dumps(spec)], capture_output=True,
                              text=True, timeout=timeout, env=env, cwd=HERE)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {timeout:.0f} s"}
    wall = time.perf_counter() - started
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-800:]}"}
    return {**json.loads(lines[-1]), "wall_s": wall}


def measure(size: int, model: str, side: str, args: argparse.Namespace, files: dict) -> dict:
    """Build then serve one collection of `size` documents; the folder goes afterwards (unless --keep)."""
    path = args.work / f"{side}-{model}-{size}"
    shutil.rmtree(path, ignore_errors=True)
    spec = {"path": str(path), "model": model, "n": size, "vectors": files["docs"], "queries": files["queries"],
            "batch": args.batch, "n_queries": args.queries, "rounds": args.rounds, "budget_s": args.budget}
    print(f"{side} {model} {size:,}: build", file=sys.stderr, flush=True)
    timeout = args.chroma_timeout if side == "chroma" else None
    result = {"side": side, "model": model, "n": size, "build": run_phase(side, "build", spec, timeout)}
    if "error" not in result["build"]:
        print(f"{side} {model} {size:,}: serve", file=sys.stderr, flush=True)
        result["serve"] = run_phase(side, "serve", spec, None)
    for phase in ("build", "serve"):
        if "error" in result.get(phase, {}):
            print(f"  {phase}: {result[phase]['error']}", file=sys.stderr, flush=True)
    if not args.keep:
        shutil.rmtree(path, ignore_errors=True)
    if "top10" in result.get("serve", {}):
        result["serve"]["recall_at_10"] = recall(result["serve"].pop("top10"), files, size)
    return result


def recall(top10: dict, files: dict, size: int) -> dict:
    """Dense and filtered recall@10 against an exact search over the same vectors."""
    vectors = np.load(files["docs"], mmap_mode="r")[:size]
    queries = np.load(files["queries"])
    return {"dense": recall_at_10(vectors, queries, top10["dense"]),
            "filtered": recall_at_10(vectors, queries, top10["filtered"], data.FILTER_BUCKETS, data.FILTER_VALUE)}


def plan(args: argparse.Namespace) -> list[tuple[int, str, str]]:
    """(size, model, side) in the order they run: small sizes first, so a partial run still says something."""
    runs = []
    for size in sorted(set(args.sizes) | set(args.minilm_sizes)):
        if size in args.sizes:
            runs.append((size, "static", "embkit"))
            if size in args.chroma_sizes:
                runs.append((size, "static", "chroma"))
        if size in args.minilm_sizes:
            runs.append((size, "minilm", "embkit"))
    return runs


def run(args: argparse.Namespace) -> dict:
    runs = plan(args)
    models = {model: max(s for s, m, _ in runs if m == model) for _, model, _ in runs}
    home = os.environ.get("EMBKIT_HOME", "~/.cache/embkit")
    out = {"command": " ".join(["env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE", f"EMBKIT_HOME={home}",
                                ".venv/bin/python benchmarks/bench_growth.py", *map(shlex.quote, sys.argv[1:])]),
           "machine": machine(["embkit", "chromadb", "faiss-cpu", "model2vec", "numpy"]),
           "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
           "static_model": str(data.static_model()), "dim": data.STATIC_DIMS,
           "payload": {str(size): data.payload_bytes(size) for size in sorted({s for s, _, _ in runs})}, "runs": []}
    files = {}
    for model, largest in models.items():
        print(f"vectors: {model} for {largest:,} documents", file=sys.stderr, flush=True)
        files[model] = data.ensure_vectors(args.work, model, largest, args.queries)
    for size, model, side in runs:
        out["runs"].append(measure(size, model, side, args, files[model]))
        report.write(out, args.out)  # after every run, so a stopped run keeps what it measured
    return out


def sizes(text: str) -> list[int]:
    return [int(float(s)) for s in text.split(",") if s.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=sizes, default=[10_000, 100_000, 1_000_000], help="static-model sizes")
    p.add_argument("--minilm-sizes", type=sizes, default=None, help="MiniLM sizes (default 10k,100k within --sizes)")
    p.add_argument("--chroma-sizes", type=sizes, default=None, help="Chroma sizes (default: every --sizes)")
    p.add_argument("--chroma-timeout", type=float, default=1800, help="seconds a Chroma build may take")
    p.add_argument("--queries", type=int, default=200, help="queries per mode for p50/p99")
    p.add_argument("--rounds", type=int, default=20, help="add-one-then-search rounds per mode")
    p.add_argument("--budget", type=float, default=60, help="seconds per mode: rounds (>= 3), queries (>= 20)")
    p.add_argument("--batch", type=int, default=5000, help="documents per add call (Chroma: at most its max)")
    p.add_argument("--work", type=Path, default=Path("/tmp/embkit-bench-growth"), help="collections, vectors")
    p.add_argument("--keep", action="store_true", help="keep the collections in --work")
    p.add_argument("--out", type=Path, default=HERE / "results" / "growth", help="OUT.json, OUT.md, OUT.png")
    args = p.parse_args(argv)
    if args.minilm_sizes is None:
        args.minilm_sizes = [s for s in args.sizes if s in (10_000, 100_000)]
    if args.chroma_sizes is None:
        args.chroma_sizes = list(args.sizes)
    return args


def main() -> None:
    args = parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    result = run(args)
    report.write(result, args.out)
    print(report.markdown(result))


if __name__ == "__main__":
    main()
