"""HNSW (or IVF) index files with and without their vectors (issue 21, lane H): bytes
of the index folder, and cold open to first result, in a fresh process each time.

"before": the state as FAISS writes IndexHNSWFlat (graph + a float32 copy of every
vector); "after": the graph alone, vectors refilled from the store on load. Both are
saved from the same in-memory index, so only the file layout differs. The OS page
cache is warm for both (nothing is dropped: the machine is shared).

Usage: python benchmarks/bench_hnsw_files.py [N] [--dim 384] [--runs 3] [--out DIR] [--spec SPEC]
Writes benchmarks/results/hnsw_files[-KIND].json and prints a table. An existing
collection in --out DIR is reused (built with the same spec).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import embkit
from embkit.index import persist

SPEC = "hnsw:M=32,efc=40,ef=64"  # a low build beam to keep the build short; M (graph size) as `auto`
RESULTS = Path(__file__).with_name("results") / "hnsw_files.json"
CHILD = """
import sys, time, numpy as np
t0 = time.perf_counter()
import embkit
t1 = time.perf_counter()
col = embkit.open(sys.argv[1])
hits = col.search(vector=np.load(sys.argv[2])[0], k=10)
t2 = time.perf_counter()
assert len(hits) == 10
print(t1 - t0, t2 - t1)
"""


def vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around 1,000 centres: clustered, as text embeddings are."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(1000, dim)).astype(np.float32)
    x = centres[rng.integers(0, 1000, n)] + 0.6 * rng.normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def build(path: Path, n: int, dim: int, spec: str) -> None:
    col = embkit.create(path, model=None, dim=dim)
    for start in range(0, n, 20_000):
        part = vectors(min(20_000, n - start), dim, seed=start + 1)
        col.add(ids=[f"d{i}" for i in range(start, start + len(part))], vectors=part)
    started = time.perf_counter()
    col.build_index(spec)
    print(f"built {spec} over {n} x {dim} in {time.perf_counter() - started:.0f} s", flush=True)
    col.close()


def save_both(path: Path) -> dict[str, Path]:
    """The saved (graph only) state, and next to it the same index saved with its vectors."""
    folder = path / "index" / "text"
    manifest = persist.read_manifest(folder)
    with embkit.open(path) as col:
        index = col._index.current()
        full, graph = path.parent / "full", path.parent / "graph"
        for old in (full, graph):
            shutil.rmtree(old, ignore_errors=True)
        persist.save(index, full, manifest["generation"], "text", manifest["collection"])
    shutil.copytree(folder, graph)
    return {"before (graph + vectors)": full, "after (graph only)": graph}


def cold_open(path: Path, query: Path) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(query)], check=True,
                         capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}).stdout
    imported, opened = map(float, out.split())
    return imported, opened


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int, nargs="?", default=200_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--spec", default=SPEC)
    args = parser.parse_args()
    root = Path(args.out or tempfile.mkdtemp(prefix="bench-hnsw-files-"))
    path = root / "c"
    if not path.exists():
        build(path, args.n, args.dim, args.spec)
    states = save_both(path)
    assert persist.read_manifest(path / "index" / "text")["vectors"] == "store"
    query = root / "q.npy"
    np.save(query, vectors(1, args.dim, seed=999))
    db = sum(p.stat().st_size for p in path.glob("embkit.db*"))
    rows = []
    for name, state in states.items():
        shutil.rmtree(path / "index" / "text")
        shutil.copytree(state, path / "index" / "text")
        cold_open(path, query)  # warm the page cache alike for both
        times = [cold_open(path, query) for _ in range(args.runs)]
        size = sum(p.stat().st_size for p in state.iterdir() if p.is_file())
        rows.append({"state": name, "index_bytes": size, "bytes_per_vector": round(size / args.n, 1),
                     "open_to_first_result_s": round(statistics.median(t[1] for t in times), 3),
                     "import_s": round(statistics.median(t[0] for t in times), 3)})
    result = {"n": args.n, "dim": args.dim, "spec": args.spec, "store_bytes": db, "runs": args.runs, "rows": rows}
    kind = args.spec.partition(":")[0]
    out = RESULTS if kind == "hnsw" else RESULTS.with_name(f"hnsw_files-{kind}.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"{args.n} x {args.dim}, {args.spec}; store {db / 2**20:.0f} MiB")
    print(f"{'state':28} {'index MiB':>10} {'B/vector':>9} {'open->first result s':>21}")
    for r in rows:
        print(f"{r['state']:28} {r['index_bytes'] / 2**20:10.1f} {r['bytes_per_vector']:9.0f} "
              f"{r['open_to_first_result_s']:21.3f}")


if __name__ == "__main__":
    main()
