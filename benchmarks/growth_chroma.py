"""The Chroma side of the growth benchmark (chromadb's local PersistentClient), one phase
a process, with the same SPEC_JSON and output shape as growth_embkit.py:

    growth_chroma.py build SPEC_JSON | serve SPEC_JSON

Chroma gets the same texts, metadata and precomputed vectors (cosine HNSW, its default
parameters). A local Chroma has no ranked keyword search (its sparse/BM25 index is
"not enabled in local") and so no hybrid: "keyword" here is its full-text filter
`where_document={"$contains": word}` (unranked, limit 10), reported apart and never
put in a ratio; hybrid is n/a."""

import json
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

MODES = ("dense", "contains", "filtered")
WHERE = {data.FILTER_FIELD: data.FILTER_VALUE}
NAME = "growth"


def build(spec: dict) -> dict:
    """Ingest N documents in batches (at most Chroma's max batch size) with their vectors."""
    import chromadb

    others = Interference()
    n = spec["n"]
    vectors = np.load(spec["vectors"], mmap_mode="r")
    client = chromadb.PersistentClient(path=spec["path"])
    batch = min(spec["batch"], client.get_max_batch_size())
    col = client.create_collection(NAME, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)
    started = time.perf_counter()
    for start in range(0, n, batch):
        count = min(batch, n - start)
        ids, texts = data.texts(count, start)
        col.add(ids=ids, documents=texts, metadatas=[data.metadata(i) for i in range(start, start + count)],
                embeddings=np.asarray(vectors[start:start + count]))
    ingest_s = time.perf_counter() - started
    first_s = timed(lambda: col.query(query_embeddings=np.asarray(vectors[:1]), n_results=10))
    return {"n": n, "ingest_s": ingest_s, "index_s": 0.0, "keyword_s": 0.0, "first_query_s": first_s,
            "docs_per_s": n / ingest_s, "searchable_docs_per_s": n / (ingest_s + first_s),
            "indexed_docs_per_s": n / (ingest_s + first_s), "batch": batch,  # Chroma builds its HNSW during add
            "disk_bytes": disk_bytes(spec["path"]), "peak_rss_mib": peak_rss_mib(),
            "others_cpu_s": others.others_cpu_s()}


def serve(spec: dict) -> dict:
    """A fresh process: cold open to first result, p50/p99 per mode, add-one-then-search,
    then a tenth deleted (Chroma has no compact: its disk after the delete is reported)."""
    others = Interference()
    at_open = disk_bytes(spec["path"])  # after the build process exited: everything it wrote is on disk
    t0 = time.perf_counter()
    import chromadb

    import_s = time.perf_counter() - t0
    queries = data.queries(spec["n_queries"])
    qvecs = np.load(spec["queries"])
    t0 = time.perf_counter()
    col = chromadb.PersistentClient(path=spec["path"]).get_collection(NAME, embedding_function=None)
    open_s = time.perf_counter() - t0
    search = _searcher(col, queries, qvecs)
    first = {mode: timed(lambda f=search[mode]: f(0)) for mode in MODES}
    out = {"disk_bytes_at_open": at_open, "import_s": import_s, "open_s": open_s,
           "cold_first_result_s": open_s + first["dense"], "first_s": first, "rss_after_open_mib": rss_mib()}
    out["search"] = {mode: latencies(search[mode], spec["n_queries"], spec["budget_s"]) for mode in MODES}
    out["rss_after_search_mib"] = rss_mib()
    checked = range(min(RECALL_QUERIES, len(qvecs)))
    out["top10"] = {mode: [search[mode](i)["ids"][0] for i in checked] for mode in ("dense", "filtered")}
    out["add_then_search"] = _add_then_search(col, spec, search)
    out["peak_rss_mib"] = peak_rss_mib()
    out["delete_tenth_s"] = delete_tenth(lambda ids: col.delete(ids=ids), spec["n"])
    out["disk_bytes_after_delete"] = disk_bytes(spec["path"])
    out["compact"] = {"available": False}
    out["others_cpu_s"] = others.others_cpu_s()
    return out


def _searcher(col, queries: list[str], qvecs: np.ndarray) -> dict:
    words = [_word(q) for q in queries]
    return {"dense": lambda i: col.query(query_embeddings=qvecs[i:i + 1], n_results=10),
            "contains": lambda i: col.get(where_document={"$contains": words[i]}, limit=10),
            "filtered": lambda i: col.query(query_embeddings=qvecs[i:i + 1], n_results=10, where=WHERE)}


def _word(query: str) -> str:
    """The query's longest word, lowercased and stripped of punctuation: what $contains looks for."""
    words = ["".join(ch for ch in w if ch.isalnum()) for w in query.lower().split()]
    return max(words, key=len) or query


def _add_then_search(col, spec: dict, search: dict) -> dict:
    pool = np.load(spec["vectors"], mmap_mode="r")
    return add_then_search_per_mode(lambda i: add_one(col, i, pool), {m: search[m] for m in MODES}, spec)


def add_one(col, i: int, pool: np.ndarray) -> None:
    ids, texts = data.texts(1, i)
    col.add(ids=ids, documents=texts, metadatas=[{**data.metadata(i), data.FILTER_FIELD: data.FILTER_VALUE}],
            embeddings=np.asarray(pool[i:i + 1]))


if __name__ == "__main__":
    phase, spec = sys.argv[1], json.loads(sys.argv[2])
    emit({"build": build, "serve": serve}[phase](spec))
