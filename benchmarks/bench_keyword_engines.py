"""Keyword engines measured for issue 21: tantivy, SQLite FTS5, today's bm25s rebuild
on write (embkit at ea9797a) and embkit's postings kept in its SQLite store.

    cd /work/main && .venv/bin/python benchmarks/bench_keyword_engines.py    # scifact, delete, 10k, 100k: ~3 min
    cd /work/main && .venv/bin/python benchmarks/bench_keyword_engines.py --parts sizes --sizes 1000000  # ~10 min

Parts (`--parts scifact,delete,sizes`), each engine in its own process, one at a time:
- scifact: BM25 nDCG@10 on SciFact's 300 test claims (corpus `title text`, top 100 a
  claim) by embkit.evaluate.metrics, and by pytrec_eval as a cross-check.
- delete: 10,000 short texts, every tenth deleted (one commit); 100 claims' top 10
  against a from-scratch build of the 9,000 left: same ids? largest score difference?
- sizes: N short texts (benchmarks/short_texts.py); add one document then search
  (ADDS times, new texts; p50); then query latency p50/p99 over SciFact's 1,109
  claims as queries (k 10, first 20 untimed, at most QUERY_SECONDS of queries); then
  index bytes on disk per document (bm25s has saved its index only by then).
Results merge into results/keyword_engines.json (a run replaces only what it measured);
results/keyword_engines.md is written from it.
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

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from keyword_engines import ENGINES, make  # noqa: E402
from short_texts import DATA, short_text  # noqa: E402

OLD_COMMIT = "ea9797a"  # the last commit with the bm25s keyword index rebuilt on write
RESULTS = HERE / "results" / "keyword_engines.json"
ADDS = {"bm25s": {10_000: 5, 100_000: 3, 1_000_000: 1}}  # rebuilds are slow; others: DEFAULT_ADDS
DEFAULT_ADDS = 20
WARMUP = 20
QUERY_SECONDS = 60.0
DELETE_N, DELETE_QUERIES = 10_000, 100


def claims() -> list[str]:
    with open(DATA / "scifact" / "queries.jsonl", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)) * 1000, 3)  # ms


# ---- parts, run inside one engine's worker process ---------------------------------------

def part_scifact(name: str, work: Path) -> dict:
    import pytrec_eval

    from embkit.evaluate.beir import load_beir
    from embkit.evaluate.metrics import ndcg

    data = load_beir(DATA / "scifact", "test")
    ids = list(data.corpus)
    engine = make(name, work / "scifact")
    started = time.perf_counter()
    engine.build((i, data.doc_text(doc)) for i, doc in enumerate(ids))
    built = time.perf_counter() - started
    run = {qid: {ids[key]: score for key, score in engine.search(text, 100)} for qid, text in data.queries.items()}
    engine.close()
    ours = ndcg(run, data.qrels, 10)
    evaluator = pytrec_eval.RelevanceEvaluator({q: dict(g) for q, g in data.qrels.items()}, {"ndcg_cut_10"})
    trec = evaluator.evaluate({q: dict(r) for q, r in run.items() if r})
    return {"ndcg@10": round(float(np.mean(list(ours.values()))), 4),
            "ndcg@10_pytrec_eval": round(sum(v["ndcg_cut_10"] for v in trec.values()) / len(data.qrels), 4),
            "queries": len(data.qrels), "docs": len(ids), "build_seconds": round(built, 2)}


def top10(engine, queries: list[str]) -> list[list[tuple[int, float]]]:
    return [engine.search(q, 10) for q in queries]


def part_delete(name: str, work: Path) -> dict:
    queries = claims()[:DELETE_QUERIES]
    gone = [k for k in range(DELETE_N) if k % 10 == 0]
    engine = make(name, work / "delete")
    engine.build((k, short_text(k)) for k in range(DELETE_N))
    engine.delete(gone)
    after = top10(engine, queries)
    term = "cell"  # a common stemmed term (tantivy's statistics)
    stats = engine.stats(term) if hasattr(engine, "stats") else None
    engine.close()
    fresh = make(name, work / "delete-fresh")
    fresh.build((k, short_text(k)) for k in range(DELETE_N) if k % 10)
    scratch = top10(fresh, queries)
    fresh_stats = fresh.stats(term) if hasattr(fresh, "stats") else None
    fresh.close()
    same_ids = sum([k for k, _ in a] == [k for k, _ in b] for a, b in zip(after, scratch))
    diffs = [abs(sa - sb) for a, b in zip(after, scratch) for (ka, sa), (kb, sb) in zip(a, b) if ka == kb]
    out = {"docs": DELETE_N, "deleted": len(gone), "queries": len(queries), "same_top10_ids": same_ids,
           "max_score_diff": float(f"{max(diffs, default=0.0):.3g}"),
           "equal": same_ids == len(queries) and max(diffs, default=0.0) < 1e-5}
    if stats is not None:
        out["stats_after_delete"], out["stats_from_scratch"] = stats, fresh_stats
    return out


def part_size(name: str, work: Path, n: int) -> dict:
    queries = claims()
    engine = make(name, work / f"size-{n}")
    started = time.perf_counter()
    engine.build((k, short_text(k)) for k in range(n))
    built = time.perf_counter() - started
    adds, add_only, adds_cpu = [], [], []
    for j in range(ADDS.get(name, {}).get(n, DEFAULT_ADDS)):
        t0, c0 = time.perf_counter(), time.process_time()
        engine.add(n + j, short_text(n + j))
        t1 = time.perf_counter()
        engine.search(queries[j], 10)
        adds.append(time.perf_counter() - t0)
        adds_cpu.append(time.process_time() - c0)
        add_only.append(t1 - t0)
    for q in queries[:WARMUP]:
        engine.search(q, 10)
    latencies, cpu, deadline = [], [], time.perf_counter() + QUERY_SECONDS
    for q in queries:
        t0, c0 = time.perf_counter(), time.process_time()
        engine.search(q, 10)
        latencies.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if t0 > deadline:
            break
    size = engine.bytes()  # after the adds: bm25s has saved its index by then
    engine.close()
    return {"docs": n, "build_seconds": round(built, 1), "index_bytes": size,
            "bytes_per_doc": round(size / (n + len(adds)), 1),
            "adds": len(adds), "add_search_p50_ms": percentile(adds, 50), "add_only_p50_ms": percentile(add_only, 50),
            "add_search_cpu_p50_ms": percentile(adds_cpu, 50), "queries": len(latencies),
            "query_p50_ms": percentile(latencies, 50), "query_p99_ms": percentile(latencies, 99),
            "query_cpu_p50_ms": percentile(cpu, 50), "query_cpu_p99_ms": percentile(cpu, 99)}


def worker(spec: dict) -> dict:
    work = Path(spec["work"]) / spec["engine"]
    started, cpu = time.perf_counter(), time.process_time()
    load = os.getloadavg()[0]
    if spec["part"] == "scifact":
        out = part_scifact(spec["engine"], work)
    elif spec["part"] == "delete":
        out = part_delete(spec["engine"], work)
    else:
        out = part_size(spec["engine"], work, spec["size"])
    out.update(wall_seconds=round(time.perf_counter() - started, 1), cpu_seconds=round(time.process_time() - cpu, 1),
               peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
               loadavg_1min_at_start=round(load, 2))
    return out


# ---- the parent: one process per engine and part ---------------------------------------

def old_source(work: Path) -> Path:
    """embkit's src/ at OLD_COMMIT, unpacked from git (the work tree is not touched)."""
    dest = work / f"embkit-{OLD_COMMIT}"
    if not (dest / "src" / "embkit").is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", OLD_COMMIT, "src/embkit"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest / "src"


def launch(spec: dict, work: Path) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    if spec["engine"] == "bm25s":
        env["PYTHONPATH"] = str(old_source(work))  # before the editable install's src/
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], env=env,
                          capture_output=True, text=True)
    shutil.rmtree(work / spec["engine"], ignore_errors=True)  # a million documents' files, kept no longer
    if proc.returncode != 0:
        raise SystemExit(f"{spec}: worker failed\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine() -> dict:
    import sqlite3

    from machine_info import machine as info

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True).stdout.strip()

    return {**info(["tantivy", "bm25s", "numpy", "PyStemmer", "pytrec_eval-terrier"]),
            "sqlite": sqlite3.sqlite_version, "embkit_commit": git("rev-parse", "--short", "HEAD"),
            "embkit_uncommitted": git("status", "--short", "--", "src/embkit/store", "src/embkit/search").split("\n")}


LABELS = {"tantivy": "tantivy (segments)", "fts5": "SQLite FTS5", "bm25s": "bm25s rebuilt on write (ea9797a)",
          "instore": "embkit in-store postings"}


def markdown(results: dict) -> str:
    """The JSON as tables: quality and deletes, then one row per engine and size."""
    lines = [f"Reproduce: `{results['command']}`", "",
             "| engine | SciFact nDCG@10 (pytrec_eval) | after deleting 10% of 10k: same top-10 as a fresh build | "
             "max score diff |", "|---|---|---|---|"]
    for name, label in LABELS.items():
        sci, dele = results.get("scifact", {}).get(name, {}), results.get("delete", {}).get(name, {})
        lines.append(f"| {label} | {sci.get('ndcg@10', '–')} ({sci.get('ndcg@10_pytrec_eval', '–')}) | "
                     f"{dele.get('same_top10_ids', '–')}/{dele.get('queries', '–')} | "
                     f"{dele.get('max_score_diff', '–')} |")
    lines += ["", "| engine | docs | build s | index bytes/doc | add 1 + search p50 ms (CPU ms) | add only p50 ms | "
              "query p50 ms (CPU) | query p99 ms (CPU) | queries | load avg |", "|---" * 10 + "|"]
    sizes = sorted((k for k in results if k.startswith("size-")), key=lambda k: int(k[5:]))
    for name, label in LABELS.items():
        for key in sizes:
            r = results[key].get(name)
            if r:
                r = {"add_search_cpu_p50_ms": "–", "query_cpu_p50_ms": "–", "query_cpu_p99_ms": "–", **r}  # older runs
                lines.append(f"| {label} | {r['docs']:,} | {r['build_seconds']} | {r['bytes_per_doc']} | "
                             f"{r['add_search_p50_ms']} ({r['add_search_cpu_p50_ms']}; n={r['adds']}) | "
                             f"{r['add_only_p50_ms']} | {r['query_p50_ms']} ({r['query_cpu_p50_ms']}) | "
                             f"{r['query_p99_ms']} ({r['query_cpu_p99_ms']}) | {r['queries']} | "
                             f"{r['loadavg_1min_at_start']} |")
    lines += ["", "Wall-clock times on 2 cores shared with other jobs (load avg: 1-minute load when the engine's "
              "process started); in brackets the process's CPU time (all its threads), which other jobs do not "
              "inflate. build s: bm25s's is the store write only (its index is built by the first search "
              "after it). "
              "Queries: SciFact claims, k 10; at most 60 s of them a size. bm25s at ea9797a adds 5/3/1 times "
              "(each rebuilds the whole index)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--parts", default="scifact,delete,sizes")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--work", default=None, help="scratch folder (default: a new temp folder)")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--markdown", action="store_true", help="only write the .md from the JSON")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.markdown:
        out = Path(args.out)
        out.with_suffix(".md").write_text(markdown(json.loads(out.read_text())))
        return
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    work = Path(args.work or tempfile.mkdtemp(prefix="kw-engines-"))
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    results["command"] = "cd /work/main && .venv/bin/python benchmarks/bench_keyword_engines.py " \
                         "&& .venv/bin/python benchmarks/bench_keyword_engines.py --parts sizes --sizes 1000000"
    results["machine"] = machine()
    engines, parts = args.engines.split(","), args.parts.split(",")
    specs = [{"part": p} for p in ("scifact", "delete") if p in parts]
    if "sizes" in parts:
        specs += [{"part": "size", "size": int(n)} for n in args.sizes.split(",")]
    for spec in specs:
        for name in engines:
            full = {**spec, "engine": name, "work": str(work)}
            row = launch(full, work)
            key = spec["part"] if spec["part"] != "size" else f"size-{spec['size']}"
            results.setdefault(key, {})[name] = row
            print(key, name, json.dumps(row), flush=True)
            out.write_text(json.dumps(results, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(results))


if __name__ == "__main__":
    main()
