"""One side of bench_ann.py's build comparison, in its own process, on the cores this
process may use (no thread variables set by the parent):

    ann_build.py embkit|chroma SPEC_JSON

SPEC_JSON: {"data": DIR with base.npy, queries.npy and truth.npy, "folder": where to
build, "M", "efc", "ef", "batch", "k"}. The precomputed vectors go in as bench_ann's
full-path sides do (batches of `batch`), and the clock stops once the HNSW graph is
built and saved: embkit's first search starts the build in a thread, `refresh_index`
waits for it and `close` saves it; Chroma builds its graph during `add` (a query then
applies anything deferred). Prints one JSON line: wall and CPU seconds (every thread of
the process), the cores used on average (CPU / wall), the threads each side was given,
and recall@10 of the saved graph at ef (queries after the clock stopped)."""

import json
import os
import sys
import time
from pathlib import Path

import numpy as np


def cores() -> int:
    return len(os.sched_getaffinity(0))


def embkit_side(spec: dict, base: np.ndarray, queries: np.ndarray) -> tuple[dict, list]:
    import embkit
    from embkit.index.build_threads import build_threads

    ids = [str(i) for i in range(len(base))]
    col = embkit.create(spec["folder"], model=None, dim=base.shape[1], metric="cosine")
    col.build_index(f"hnsw:M={spec['M']},efc={spec['efc']},ef={spec['ef']}")  # empty: sets the spec
    wall, cpu = time.perf_counter(), time.process_time()
    for s in range(0, len(ids), spec["batch"]):
        col.add(ids=ids[s:s + spec["batch"]], vectors=base[s:s + spec["batch"]])
    add_s = time.perf_counter() - wall
    col.search(vector=queries[0], k=spec["k"])  # starts the build in a thread
    col.refresh_index()
    col.close()
    out = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu, "add_s": add_s,
           "threads": f"FAISS build on {build_threads()} OpenMP threads"}
    col = embkit.open(spec["folder"])
    assert col.info()["index"]["kind"] == "hnsw"
    found = [[int(h.id) for h in col.search(vector=q, k=spec["k"])] for q in queries]
    col.close()
    return out, found


def chroma_side(spec: dict, base: np.ndarray, queries: np.ndarray) -> tuple[dict, list]:
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(path=spec["folder"], settings=Settings(anonymized_telemetry=False))
    batch = min(spec["batch"], client.get_max_batch_size())
    hnsw = {"space": "cosine", "ef_construction": spec["efc"], "max_neighbors": spec["M"], "ef_search": spec["ef"],
            "num_threads": cores()}
    col = client.create_collection("bench", embedding_function=None, configuration={"hnsw": hnsw})
    ids = [str(i) for i in range(len(base))]
    wall, cpu = time.perf_counter(), time.process_time()
    for s in range(0, len(ids), batch):
        col.add(ids=ids[s:s + batch], embeddings=base[s:s + batch])
    col.query(query_embeddings=queries[:1], n_results=spec["k"])  # anything deferred is part of the build
    out = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
           "threads": f"hnsw num_threads={cores()}", "batch": batch}
    found = [[int(i) for i in r] for r in col.query(query_embeddings=queries, n_results=spec["k"])["ids"]]
    return out, found


def main() -> None:
    side, spec = sys.argv[1], json.loads(sys.argv[2])
    data = Path(spec["data"])
    base, queries, truth = (np.load(data / f"{name}.npy") for name in ("base", "queries", "truth"))
    out, found = {"embkit": embkit_side, "chroma": chroma_side}[side](spec, base, queries)
    hits = [len(set(f) & set(t[:spec["k"]].tolist())) for f, t in zip(found, truth)]
    out.update(side=side, cores=cores(), cores_used=out["cpu_s"] / out["wall_s"],
               recall=float(np.mean(hits)) / spec["k"], n=len(base))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
