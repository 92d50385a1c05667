"""The embkit side of the growth benchmark, one phase a process (the parent runs it):

    growth_embkit.py build SPEC_JSON   create the collection and ingest N documents
    growth_embkit.py serve SPEC_JSON   cold open, latencies, add-one-then-search, compact

SPEC_JSON: {"path", "model", "n", "vectors", "queries", "batch", "n_queries", "rounds", "budget_s"}.
Prints one JSON line of results. Vectors are given (the same floats Chroma gets);
the collection has the model too, so hybrid queries and new texts are embedded by it."""

import json
import subprocess
import sys
import time

import growth_data as data
import numpy as np
from growth_measure import (
    RECALL_QUERIES,
    Interference,
    add_then_search_per_mode,
    delete_tenth,
    disk_bytes,
    emit,
    latencies,
    peak_rss_mib,
    rss_mib,
    timed,
)

MODES = ("dense", "keyword", "hybrid", "filtered")
WHERE = {data.FILTER_FIELD: data.FILTER_VALUE}


def build(spec: dict) -> dict:
    """Ingest N documents in batches (vectors given); *searchable* once a dense and a
    keyword query have answered (a big HNSW graph then builds in a background thread
    while searches run exactly, as bench_ann.py counts it), *indexed* once that graph is
    built and saved."""
    import embkit

    others = Interference()
    n, batch = spec["n"], spec["batch"]
    vectors = np.load(spec["vectors"], mmap_mode="r")
    col = embkit.create(spec["path"], model=data.model_path(spec["model"]))
    started = time.perf_counter()
    for start in range(0, n, batch):
        count = min(batch, n - start)
        ids, texts = data.texts(count, start)
        metas = [data.metadata(i) for i in range(start, start + count)]
        col.add(texts, ids=ids, metadatas=metas, vectors=np.asarray(vectors[start:start + count]))
    ingest_s = time.perf_counter() - started
    first_s = timed(lambda: col.search(vector=np.asarray(vectors[0]), k=10))
    keyword_s = timed(lambda: col.search(data.queries(1)[0], mode="keyword", k=10))
    index_s = timed(col.refresh_index)  # waits for the background build, if one runs
    close_s = timed(col.close)  # saves the index
    peak = peak_rss_mib()
    embed = data.embed_rate(spec["model"])  # after the peak was read: the store side's memory is the figure
    searchable, indexed = ingest_s + first_s + keyword_s, ingest_s + first_s + keyword_s + index_s + close_s
    return {"n": n, "ingest_s": ingest_s, "first_query_s": first_s, "keyword_s": keyword_s, "index_s": index_s,
            "close_s": close_s, "docs_per_s": n / ingest_s, "searchable_docs_per_s": n / searchable,
            "indexed_docs_per_s": n / indexed, "embed_docs_per_s": embed,
            "with_embedding_docs_per_s": n / (n / embed + searchable),
            "disk_bytes": disk_bytes(spec["path"]),
            "disk_split": _disk_split(spec["path"]), "peak_rss_mib": peak,
            "others_cpu_s": others.others_cpu_s()}


def serve(spec: dict) -> dict:
    """A fresh process: cold open to first result, first result per mode, p50/p99 per
    mode, add-one-document-then-search per mode; then a tenth deleted and compacted."""
    others = Interference()
    at_open = disk_bytes(spec["path"])  # after the build process exited: everything it wrote is on disk
    t0 = time.perf_counter()
    import embkit

    import_s = time.perf_counter() - t0
    queries = data.queries(spec["n_queries"])
    qvecs = np.load(spec["queries"])
    t0 = time.perf_counter()
    col = embkit.open(spec["path"])
    open_s = time.perf_counter() - t0
    search = _searcher(col, queries, qvecs)
    first = {mode: timed(lambda f=search[mode]: f(0)) for mode in MODES}
    out = {"disk_bytes_at_open": at_open, "import_s": import_s, "open_s": open_s,
           "cold_first_result_s": open_s + first["dense"], "first_s": first, "rss_after_open_mib": rss_mib()}
    out["search"] = {mode: latencies(search[mode], spec["n_queries"], spec["budget_s"]) for mode in MODES}
    out["rss_after_search_mib"] = rss_mib()
    checked = range(min(RECALL_QUERIES, len(qvecs)))
    out["top10"] = {mode: [[hit.id for hit in search[mode](i)] for i in checked] for mode in ("dense", "filtered")}
    out["index"] = col.info()["index"]
    out["encode_query_ms"] = latencies(lambda i: col.embed([queries[i]]), spec["n_queries"], spec["budget_s"])["p50_ms"]
    out["add_then_search"] = _add_then_search(col, spec, search)
    out["peak_rss_mib"] = peak_rss_mib()
    out["delete_tenth_s"] = delete_tenth(lambda ids: col.delete(ids), spec["n"])
    col.close()
    out["disk_bytes_after_delete"] = disk_bytes(spec["path"])
    out["compact"] = _compact(spec["path"])
    out["others_cpu_s"] = others.others_cpu_s()
    return out


def _searcher(col, queries: list[str], qvecs: np.ndarray) -> dict:
    """One search function per mode: dense and filtered by the query's vector (as Chroma
    is asked), keyword and hybrid by its text (hybrid embeds it with the model)."""
    return {"dense": lambda i: col.search(vector=qvecs[i], k=10),
            "keyword": lambda i: col.search(queries[i], mode="keyword", k=10),
            "hybrid": lambda i: col.search(queries[i], mode="hybrid", k=10),
            "filtered": lambda i: col.search(vector=qvecs[i], k=10, where=WHERE)}


def _add_then_search(col, spec: dict, search: dict) -> dict:
    pool = np.load(spec["vectors"], mmap_mode="r")
    return add_then_search_per_mode(lambda i: add_one(col, i, pool), {m: search[m] for m in MODES}, spec)


def add_one(col, i: int, pool: np.ndarray) -> None:
    """Document i (text, its vector, metadata in the filtered bucket, so filtered search can see it)."""
    ids, texts = data.texts(1, i)
    col.add(texts, ids=ids, metadatas=[{**data.metadata(i), data.FILTER_FIELD: data.FILTER_VALUE}],
            vectors=np.asarray(pool[i:i + 1]))


def _compact(path: str) -> dict:
    """`embkit compact DIR` (after a tenth was deleted) timed as a user runs it, in its
    own process, if this embkit has it; `startup_s` is `embkit compact --help`'s time."""
    cli = [sys.executable, "-m", "embkit.cli", "compact"]
    started = time.perf_counter()
    probe = subprocess.run([*cli, "--help"], capture_output=True, text=True)
    startup = time.perf_counter() - started
    if probe.returncode != 0:
        return {"available": False}
    before = disk_bytes(path)
    started = time.perf_counter()
    done = subprocess.run([*cli, path], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    return {"available": True, "ok": done.returncode == 0, "s": seconds, "startup_s": startup, "bytes_before": before,
            "bytes_after": disk_bytes(path), "output": (done.stdout + done.stderr).strip()[-300:]}


def _disk_split(path: str) -> dict:
    """Bytes per top-level entry of the collection folder (store file, index folders)."""
    from pathlib import Path

    return {p.name: disk_bytes(p) if p.is_dir() else p.stat().st_blocks * 512 for p in sorted(Path(path).iterdir())}


if __name__ == "__main__":
    phase, spec = sys.argv[1], json.loads(sys.argv[2])
    emit({"build": build, "serve": serve}[phase](spec))
