"""Issue 21's size ratios, measured paired: search p50 per mode, and add-one-document-then-
search p50, at the largest size over the smallest (1M over 10k by default). Full run:

    EMBKIT_HOME=/tmp/bench-ehome .venv/bin/python benchmarks/bench_mode_ratios.py \\
        --vectors-work /tmp/growth-1m-new/work

bench_growth.py measures the same modes, but each size in one long run, minutes apart, so
their ratio on a shared machine takes in whatever else ran meanwhile. Here the collections
are built once (under --work, by bench_growth's own embkit build phase: same texts,
metadata with `bucket`, static-model vectors from its cache, same index spec), then in
each of R rounds each size is measured by a fresh worker process, one after the other
(the order alternating per round), and the ratio is taken within the round: the median
over rounds and its spread say how far the noise reaches.

A worker (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, one thread: OMP/OpenBLAS/MKL/
numba at 1) opens the collection, warms every mode up, then times N calls of each mode:
dense, keyword, hybrid, filtered (where {"bucket": 42}: 1%), add-one-then-keyword and
add-one-then-hybrid (p50 of wall time and of the thread's CPU time). The documents it
added (the pool after the last one, as bench_growth adds them) are deleted at its end,
untimed, so every round starts from the same live documents. `--src DIR` measures
another checkout's src (e.g. an older commit's) on the same collections; `--modes keyword`
(comma-separated) warms up and times only those modes, for a quick look at one.
Writes OUT.json and OUT.md (OUT defaults to benchmarks/results/mode_ratios)."""

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
import numpy as np  # noqa: E402
from growth_measure import Interference, emit  # noqa: E402

SEARCH_MODES = ("dense", "keyword", "hybrid", "filtered")
ADD_MODES = ("add_keyword", "add_hybrid")
MODES = SEARCH_MODES + ADD_MODES
TARGET = 3.0  # issue 21: at most 3x the smallest size's p50
WARMUP = 10  # untimed calls per search mode
ADD_WARMUP = 2  # untimed add-then-search calls per add mode
MAX_ADDS = data.ADD_ONE_POOL // len(ADD_MODES) - ADD_WARMUP  # the pool holds ADD_ONE_POOL new texts
QUERIES = 200  # SciFact queries embedded (bench_growth's default --queries: its cache serves)
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
UNSET = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


# ---- the worker: one size, one round, in its own process ----

def worker(spec: dict) -> dict:
    """Open the collection, warm up, time N calls of each mode; delete what was added."""
    if spec.get("src"):
        sys.path.insert(0, spec["src"])
    others = Interference()
    started = time.perf_counter()
    import growth_embkit

    import embkit

    col = embkit.open(spec["path"])
    open_s = time.perf_counter() - started
    calls = _calls(col, spec, growth_embkit)
    modes = spec.get("modes", MODES)
    _warm_up(calls, spec, modes)
    out = {"n": spec["n"], "embkit": embkit.__file__, "open_s": round(open_s, 3), "index": col.info()["index"],
           "modes": {mode: _time_calls(calls[mode], spec["n_calls"][mode], spec["first_call"][mode])
                     for mode in modes}}
    col.delete(spec["added_ids"])  # untimed: the next round starts from the same live documents
    out["after_delete"] = {"count": col.count(), "index_dead": col.info()["index"].get("dead")}
    col.close()
    out["others_cpu_s"] = others.others_cpu_s()
    return out


def _calls(col, spec: dict, growth_embkit) -> dict:
    """mode -> fn(i): bench_growth's searches, and add-one (its add_one: next pool text,
    its vector, bucket 42) then search, the two add modes drawing from separate pool parts."""
    search = growth_embkit._searcher(col, data.queries(spec["n_queries"]), np.load(spec["queries"]))
    pool = np.load(spec["vectors"], mmap_mode="r")
    calls = dict(search)
    for mode, first in zip(ADD_MODES, spec["add_starts"]):
        query = search[mode.removeprefix("add_")]

        def add_then_search(i: int, first: int = first, query=query) -> None:
            growth_embkit.add_one(col, first + i, pool)
            query(i)

        calls[mode] = add_then_search
    return calls


def _warm_up(calls: dict, spec: dict, modes: tuple = MODES) -> None:
    """WARMUP untimed searches per search mode, the filter's compiled pass loaded (it
    loads in a background thread; until then filters are scored without it), then
    ADD_WARMUP untimed adds-then-search per add mode (their first documents); of `modes` only."""
    for mode in SEARCH_MODES:
        for i in range(WARMUP if mode in modes else 0):
            calls[mode](i)
    if "filtered" not in modes:
        _warm_adds(calls, modes)
        return
    try:
        from embkit.search import filter_codes_cache
    except ImportError:  # older code (--src) has no compiled pass
        return
    filter_codes_cache.load_kernel(wait=None)
    for i in range(WARMUP):
        calls["filtered"](i)
    _warm_adds(calls, modes)


def _warm_adds(calls: dict, modes: tuple) -> None:
    for mode in ADD_MODES:
        for i in range(ADD_WARMUP if mode in modes else 0):
            calls[mode](i)


def _time_calls(fn, count: int, first: int) -> dict:
    """p50 (and p90) of wall, thread-CPU and process-CPU ms over fn(first) .. fn(first+count-1)."""
    wall, thread, process = [], [], []
    for i in range(first, first + count):
        w, t, p = time.perf_counter(), time.thread_time(), time.process_time()
        fn(i)
        thread.append(time.thread_time() - t)
        process.append(time.process_time() - p)
        wall.append(time.perf_counter() - w)
    ms = {k: np.array(v) * 1000 for k, v in (("wall", wall), ("cpu", thread), ("process_cpu", process))}
    out = {"n": count, **{f"{k}_ms": round(float(np.median(v)), 4) for k, v in ms.items()}}
    out["wall_p90_ms"] = round(float(np.percentile(ms["wall"], 90)), 4)
    return out


# ---- the parent: build once, then paired rounds ----

def collection(work: Path, n: int) -> Path:
    return work / f"embkit-static-{n}"


def ensure_built(args: argparse.Namespace, files: dict, n: int) -> dict:
    """The collection of n documents, built by bench_growth's embkit build phase unless
    a finished build is there (its result is kept beside it as JSON)."""
    from bench_growth import run_phase

    path, done = collection(args.work, n), args.work / f"embkit-static-{n}.build.json"
    if path.is_dir() and done.is_file():
        return json.loads(done.read_text())
    shutil.rmtree(path, ignore_errors=True)
    print(f"build {n:,}", file=sys.stderr, flush=True)
    spec = {"path": str(path), "model": "static", "n": n, "vectors": files["docs"], "queries": files["queries"],
            "batch": args.batch}
    result = run_phase("embkit", "build", spec, None)
    if "error" in result:
        raise SystemExit(f"build of {n:,} failed: {result['error']}")
    done.write_text(json.dumps(result))
    return result


def run_worker(args: argparse.Namespace, files: dict, n: int) -> dict:
    """One worker for size n; its result with the machine's load when it started."""
    calls = {mode: args.calls for mode in SEARCH_MODES}
    per_add = min(args.calls, MAX_ADDS)
    calls.update({mode: per_add for mode in ADD_MODES})
    first = {**{mode: 0 for mode in SEARCH_MODES}, **{mode: ADD_WARMUP for mode in ADD_MODES}}
    starts = [n + k * (per_add + ADD_WARMUP) for k in range(len(ADD_MODES))]
    spec = {"path": str(collection(args.work, n)), "n": n, "vectors": files["docs"], "queries": files["queries"],
            "n_queries": max(args.calls, QUERIES), "n_calls": calls, "add_starts": starts,
            "src": args.src and str(args.src), "modes": args.modes,
            "first_call": first, "added_ids": [f"s{i}" for k, mode in enumerate(ADD_MODES) if mode in args.modes
                                               for i in range(starts[k], starts[k] + per_add + ADD_WARMUP)]}
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(ONE_THREAD, HF_HUB_OFFLINE="1")
    load = os.getloadavg()[0]
    done = subprocess.run([sys.executable, __file__, "worker", json.dumps(spec)], capture_output=True, text=True,
                          env=env, cwd=HERE)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise SystemExit(f"worker for {n:,} failed (exit {done.returncode}): {done.stderr.strip()[-1500:]}")
    return {**json.loads(lines[-1]), "load1_at_start": load}


def ratios(rounds: list[dict], small: int, large: int) -> dict:
    """Per mode and measure (wall, cpu): the large/small ratio of each round, median, spread."""
    out = {}
    for mode in rounds[0]["runs"][str(small)]["modes"]:
        out[mode] = {}
        for what in ("wall", "cpu", "process_cpu"):
            key = f"{what}_ms"
            a = [r["runs"][str(small)]["modes"][mode][key] for r in rounds]
            b = [r["runs"][str(large)]["modes"][mode][key] for r in rounds]
            per_round = [y / x if x > 0 else float("nan") for x, y in zip(a, b)]
            out[mode][what] = {"per_round": [round(v, 3) for v in per_round],
                               "median": round(float(np.median(per_round)), 3),
                               "min": round(min(per_round), 3), "max": round(max(per_round), 3),
                               "small_p50_ms": round(float(np.median(a)), 4),
                               "large_p50_ms": round(float(np.median(b)), 4)}
    return out


def markdown(result: dict) -> str:
    small, large = result["settings"]["sizes"][0], result["settings"]["sizes"][-1]
    s, b = _short(small), _short(large)
    lines = [f"Per mode: median over {len(result['rounds'])} rounds of the {b}/{s} ratio of p50s taken in the same "
             f"round [min-max]; p50 ms are medians over rounds; target <= {TARGET:g}x.", "",
             f"| mode | {s} wall ms | {b} wall ms | wall {b}/{s} | {s} CPU ms | {b} CPU ms | CPU {b}/{s} |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for mode, by in result.get("ratios", {}).items():
        w, c = by["wall"], by["cpu"]
        lines.append(f"| {mode} | {w['small_p50_ms']:.3f} | {w['large_p50_ms']:.3f} | "
                     f"{w['median']:.2f} [{w['min']:.2f}-{w['max']:.2f}] | {c['small_p50_ms']:.3f} | "
                     f"{c['large_p50_ms']:.3f} | {c['median']:.2f} [{c['min']:.2f}-{c['max']:.2f}] |")
    lines += ["", "| round | order | load (1 min) at each worker's start | others' CPU-s during each worker |",
              "|---:|---|---|---|"]
    for r in result["rounds"]:
        order = [str(n) for n in r["order"]]
        runs = [r["runs"][n] for n in order]
        loads = ", ".join(f"{w['load1_at_start']:.2f}" for w in runs)
        others = ", ".join(str(w["others_cpu_s"]) for w in runs)
        lines.append(f"| {r['round']} | {' then '.join(_short(int(n)) for n in order)} | {loads} | {others} |")
    lines += ["", f"Command: `{result['command']}`"]
    return "\n".join(lines) + "\n"


def _short(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)


def write(result: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(result))


def run(args: argparse.Namespace) -> dict:
    from machine_info import machine

    small, large = args.sizes[0], args.sizes[-1]
    files = data.ensure_vectors(args.vectors_work or args.work, "static", large, max(args.calls, QUERIES))
    home = os.environ.get("EMBKIT_HOME", "~/.cache/embkit")
    result = {"command": " ".join([f"EMBKIT_HOME={home}", ".venv/bin/python benchmarks/bench_mode_ratios.py",
                                   *map(shlex.quote, sys.argv[1:])]),
              "machine": machine(["embkit", "faiss-cpu", "model2vec", "numpy", "numba"]),
              "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
              "worker_env": {"unset": list(UNSET), **ONE_THREAD}, "vectors": files,
              "builds": {str(n): ensure_built(args, files, n) for n in args.sizes}, "rounds": []}
    if args.build_only:
        return result
    for r in range(args.rounds):
        order = args.sizes if r % 2 == 0 else args.sizes[::-1]
        runs = {}
        for n in order:
            print(f"round {r + 1}/{args.rounds}: {n:,}", file=sys.stderr, flush=True)
            runs[str(n)] = run_worker(args, files, n)
        result["rounds"].append({"round": r + 1, "order": order, "runs": runs})
        result["ratios"] = ratios(result["rounds"], small, large)
        write(result, args.out)  # after every round, so a stopped run keeps what it measured
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=lambda t: sorted(int(float(s)) for s in t.split(",")),
                   default=[10_000, 1_000_000], help="two sizes: the ratio is the larger's over the smaller's")
    p.add_argument("--rounds", type=int, default=5, help="R: paired rounds")
    p.add_argument("--calls", type=int, default=200,
                   help=f"N: timed calls per mode (add modes: at most {MAX_ADDS})")
    p.add_argument("--work", type=Path, default=Path("/tmp/mode-ratios"), help="collections (built once)")
    p.add_argument("--vectors-work", type=Path, default=None,
                   help="a bench_growth --work whose vector cache to use (default: --work)")
    p.add_argument("--src", type=Path, default=None, help="another checkout's src folder to measure")
    p.add_argument("--batch", type=int, default=5000, help="documents per add call while building")
    p.add_argument("--modes", type=lambda t: tuple(m for m in MODES if m in t.split(",")), default=MODES,
                   help=f"modes to time, comma-separated (default all: {','.join(MODES)})")
    p.add_argument("--build-only", action="store_true", help="build the collections and stop")
    p.add_argument("--out", type=Path, default=HERE / "results" / "mode_ratios", help="OUT.json, OUT.md")
    args = p.parse_args(argv)
    if len(args.sizes) != 2:
        p.error("--sizes takes two sizes")
    if not args.modes:
        p.error(f"--modes takes some of {','.join(MODES)}")
    return args


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "worker":
        emit(worker(json.loads(sys.argv[2])))
        return
    args = parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    result = run(args)
    if not args.build_only:
        write(result, args.out)
        print(markdown(result))


if __name__ == "__main__":
    main()
