"""Search over HTTP: embkit's server against Chroma's own server, same documents, same vectors.

Both servers hold the 5,183 SciFact abstracts (text, a `title` metadata field and the
same precomputed all-MiniLM-L6-v2 vectors, cached under results/cache/), in an HNSW
index with Chroma's default graph parameters on both sides (cosine, M=16,
ef_construction=100, ef_search=100). One client harness drives both: N threads, each
with its own keep-alive HTTP/1.1 connection (a raw socket and prebuilt request bytes,
so the client costs 50-90 µs of CPU per request and is the same for both), sending the 300
SciFact test queries' vectors with k=10 and asking for documents, metadata and scores.
Each concurrency level (1, 8, 32 clients) runs for a fixed time after a warm-up and
reports p50/p99 latency and requests/s. A second embkit row sends the query text and
lets the server embed it (Chroma's server cannot: its client embeds). Recall@10 of
every side is measured over HTTP against exact search, so speed is compared at
matched quality. The servers run one after the other (2 cores), each started and
stopped by this script (127.0.0.1, free ports, temporary folders), both with their
default settings (embkit with an API key). Per level it also records each server's CPU
time per request and other processes' CPU. Memory is read from /proc for the server's
whole process tree (embkit: the supervisor and its workers), summed: RSS once the
processes have settled after start (no change over 2 s), and the peak (VmHWM) and
PSS (shared pages split between the processes that map them: what the tree costs the
machine) after each row; the RSS ratios to Chroma's server are printed against the
target (<= 1.5x). The embkit server's EMBKIT_HOME gets the model's ONNX files before
the server starts (the one-time export any machine does on first use), so a worker's
peak is what serving costs, not that export.

    .venv/bin/python benchmarks/bench_server.py [--duration 15] [--concurrency 1,8,32] [--sides embkit,chroma]

Writes benchmarks/results/bench_server.json (`--out` to change).
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import argparse
import hashlib
import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from machine_info import machine

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
BIN = Path(sys.executable).parent
K = 10
M, EFC, EF = 16, 100, 100  # Chroma's defaults (max_neighbors, ef_construction, ef_search)
HNSW_SPEC = f"hnsw:M={M},efc={EFC},ef={EF}"
NAME = "scifact"
TARGETS = {"p99_ratio_max": 1.0, "throughput_ratio_min": 2.0, "rss_ratio_max": 1.5}  # embkit / chroma


# ---- data ------------------------------------------------------------------------------

@dataclass
class Data:
    ids: list[str]
    texts: list[str]
    metadatas: list[dict]
    vectors: np.ndarray  # (n, 384) float32, unit rows
    query_texts: list[str]
    queries: np.ndarray  # (q, 384) float32, unit rows
    truth: list[list[str]] = field(default_factory=list)  # exact top-K ids per query


def _cached_vectors(name: str, texts: list[str]) -> np.ndarray:
    """MiniLM vectors of `texts`, computed once with embkit's encoder and cached."""
    key = hashlib.sha1("\n".join(texts).encode()).hexdigest()[:12]
    cache = RESULTS / "cache" / f"{name}-minilm-{len(texts)}-{key}.npy"
    if cache.exists():
        return np.load(cache)
    import embkit

    print(f"embedding {len(texts)} texts ({name}) with minilm, cached at {cache}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    x = embkit.load_encoder("minilm").encode(texts, batch_size=32)
    print(f"  {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, x)
    return x


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return np.ascontiguousarray(x / np.linalg.norm(x, axis=1, keepdims=True))


def load_data(folder: Path) -> Data:
    """The SciFact corpus (title + " " + text, as `embkit eval retrieval` embeds it) and
    its test queries, with their vectors and exact top-K neighbours."""
    from embkit.evaluate.beir import load_beir

    beir = load_beir(folder, "test")
    ids = [i for i in beir.corpus if beir.doc_text(i)]
    texts = [beir.doc_text(i) for i in ids]
    metadatas = [{"title": beir.corpus[i]["title"]} for i in ids]
    query_texts = list(beir.queries.values())
    data = Data(ids, texts, metadatas, _unit(_cached_vectors("scifact-corpus", texts)), query_texts,
                _unit(_cached_vectors("scifact-test-queries", query_texts)))
    scores = data.queries @ data.vectors.T
    top = np.argsort(-scores, axis=1, kind="stable")[:, :K]
    data.truth = [[ids[j] for j in row] for row in top]
    return data


def recall(found: list[list[str]], truth: list[list[str]]) -> float:
    return float(np.mean([len(set(f[:K]) & set(t)) / K for f, t in zip(found, truth)]))


# ---- a minimal HTTP/1.1 client ----------------------------------------------------------

class Connection:
    """One keep-alive connection; `request` sends prebuilt bytes and reads one response
    (Content-Length or chunked). Nothing is parsed but the status and the framing."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def _fill(self) -> None:
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def request(self, raw: bytes) -> tuple[int, bytes]:
        self.sock.sendall(raw)
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            self._fill()
        head, self.buf = self.buf[:end], self.buf[end + 4:]
        status = int(head[9:12])
        length, chunked = None, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            return status, self._chunked()
        while len(self.buf) < (length or 0):
            self._fill()
        body, self.buf = self.buf[:length or 0], self.buf[length or 0:]
        return status, body

    def _chunked(self) -> bytes:
        parts = []
        while True:
            while (end := self.buf.find(b"\r\n")) < 0:
                self._fill()
            size = int(self.buf[:end].split(b";")[0], 16)
            while len(self.buf) < end + 2 + size + 2:
                self._fill()
            parts.append(self.buf[end + 2:end + 2 + size])
            self.buf = self.buf[end + 2 + size + 2:]
            if size == 0:
                return b"".join(parts)


def http_request(method: str, port: int, path: str, body: bytes = b"", headers: dict | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Accept: application/json"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def call(port: int, raw: bytes) -> tuple[int, bytes]:
    conn = Connection(port)
    try:
        return conn.request(raw)
    finally:
        conn.close()


# ---- measuring --------------------------------------------------------------------------

def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its descendants (`embkit serve
    --workers N` runs N worker processes under one supervisor) so far."""
    total = 0
    for p in _tree(pid):
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (every core), from /proc/stat."""
    parts = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = parts[3] + parts[4]  # idle + iowait
    return (sum(parts[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """A process and its descendants (embkit's worker processes; Chroma forks none)."""
    out = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            out += _tree(int(child))
    return out


def memory_mib(pid: int) -> dict:
    """VmRSS (now), VmHWM (peak) and PSS (now) of a process, summed over it and its
    descendants, MiB, with each process's own figures under `each`."""
    total = {"rss_mib": 0.0, "peak_rss_mib": 0.0, "pss_mib": 0.0, "processes": 0, "each": []}
    for p in _tree(pid):
        lines = Path(f"/proc/{p}/status").read_text().splitlines()
        status = dict(line.split(":", 1) for line in lines if ":" in line)
        rollup = dict(line.split(":", 1) for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()[1:])
        one = {"pid": p, "command": Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:80],
               "rss_mib": int(status["VmRSS"].split()[0]) / 1024,
               "peak_rss_mib": int(status["VmHWM"].split()[0]) / 1024,
               "pss_mib": int(rollup["Pss"].split()[0]) / 1024}
        for key in ("rss_mib", "peak_rss_mib", "pss_mib"):
            total[key] += one[key]
        total["processes"] += 1
        total["each"].append(one)
    return total


def settled_memory_mib(pid: int, quiet_s: float = 2.0, limit_s: float = 60.0) -> dict:
    """`memory_mib` once the tree's RSS has not moved by 1 MiB for `quiet_s` (a server
    answers /health from its first worker while the others may still be importing)."""
    deadline, last, since = time.monotonic() + limit_s, None, time.monotonic()
    while True:
        now = memory_mib(pid)
        if last is None or abs(now["rss_mib"] - last["rss_mib"]) >= 1 or now["processes"] != last["processes"]:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s or time.monotonic() > deadline:
            return now
        time.sleep(0.25)


def load(port: int, requests: list[bytes], clients: int, duration: float, server_pid: int) -> dict:
    """`clients` threads, one connection each, sending `requests` round-robin (each
    thread from its own offset) for `duration` seconds: latency percentiles, requests/s,
    and who used the CPU meanwhile."""
    conns = [Connection(port) for _ in range(clients)]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    bad: list[int] = [0] * clients
    finished: list[float] = [0.0] * clients
    start_gate = threading.Barrier(clients + 1)
    deadline = [0.0]

    def worker(i: int) -> None:
        conn, out, n = conns[i], latencies[i], len(requests)
        j = (i * n) // clients
        start_gate.wait()
        end = deadline[0]
        now = time.perf_counter()
        while now < end:
            status, _ = conn.request(requests[j % n])
            after = time.perf_counter()
            out.append(after - now)
            if status != 200:
                bad[i] += 1
            now, j = after, j + 1
        finished[i] = now

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    cpu0 = (time.process_time(), proc_cpu(server_pid), machine_busy())
    started = time.perf_counter()
    deadline[0] = started + duration
    start_gate.wait()
    for t in threads:
        t.join()
    elapsed = max(finished) - started
    client_cpu, server_cpu, busy = (b - a for a, b in zip(cpu0, (time.process_time(), proc_cpu(server_pid),
                                                                  machine_busy())))
    for conn in conns:
        conn.close()
    lat = np.concatenate([np.asarray(x) for x in latencies]) * 1000
    n = len(lat)
    return {"clients": clients, "requests": n, "errors": sum(bad), "seconds": round(elapsed, 3),
            "rps": n / elapsed, "p50_ms": float(np.percentile(lat, 50)), "p90_ms": float(np.percentile(lat, 90)),
            "p99_ms": float(np.percentile(lat, 99)), "mean_ms": float(lat.mean()), "max_ms": float(lat.max()),
            "server_cpu_ms_per_request": server_cpu * 1000 / n, "client_cpu_us_per_request": client_cpu * 1e6 / n,
            "server_cores": server_cpu / elapsed, "client_cores": client_cpu / elapsed,
            "other_cores": max(0.0, busy - server_cpu - client_cpu) / elapsed}


# ---- servers ----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server subprocess, waited for until `ready_path` answers 200; always stopped."""

    def __init__(self, label: str, argv: list[str], env: dict, port: int, log: Path):
        self.label, self.port, self.log = label, port, log
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(argv, env=env, stdout=self._log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.startup_s = None

    def wait_ready(self, ready_path: str) -> None:
        label, port = self.label, self.port
        started = time.perf_counter()
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{label} server exited with {self.proc.returncode}; log:\n{self.tail()}")
            try:
                if call(port, http_request("GET", port, ready_path))[0] == 200:
                    break
            except OSError:
                pass
            if time.perf_counter() - started > 120:
                raise RuntimeError(f"{label} server did not answer within 120 s; log:\n{self.tail()}")
            time.sleep(0.1)
        self.startup_s = time.perf_counter() - started

    @property
    def pid(self) -> int:
        return self.proc.pid

    def tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # both shut down cleanly on Ctrl-C
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log_file.close()


RUNNING: list[Server] = []


def stop_all() -> None:
    while RUNNING:
        RUNNING.pop().stop()


def start(label: str, argv: list[str], env: dict, port: int, ready_path: str, log: Path) -> Server:
    """Started, registered to be stopped whatever happens, then waited for."""
    server = Server(label, argv, env, port, log)
    RUNNING.append(server)
    server.wait_ready(ready_path)
    return server


# ---- the two sides ----------------------------------------------------------------------

def _floats(v: np.ndarray) -> list[float]:
    return [float(x) for x in v]


def embkit_side(data: Data, tmp: Path, env: dict, args) -> tuple[Server, dict]:
    """A collection made in Python (precomputed vectors, HNSW as Chroma's defaults),
    served by `embkit serve` with an API key."""
    import embkit

    folder = tmp / "embkit" / NAME
    started = time.perf_counter()
    col = embkit.create(folder)  # minilm: the server can embed query text
    col.build_index(HNSW_SPEC)  # empty: this only sets the spec
    for s in range(0, len(data.ids), 1000):
        col.add(data.texts[s:s + 1000], ids=data.ids[s:s + 1000], metadatas=data.metadatas[s:s + 1000],
                vectors=data.vectors[s:s + 1000])
    col.refresh_index()  # waits for the HNSW build
    index = col.info()["index"]
    col.close()
    ingest_s = time.perf_counter() - started
    home = tmp / "embkit-home"
    keys = home / "keys.json"
    subprocess.run([sys.executable, "-c", "import embkit; embkit.load_encoder('minilm').encode(['warm'])"],
                   env={**env, "EMBKIT_HOME": str(home)}, check=True)  # the model's ONNX files, once
    key = subprocess.run([str(BIN / "embkit"), "keys", "create", "--scope", "read", "--keys-file", str(keys)],
                         env={**env, "EMBKIT_HOME": str(home)}, check=True, capture_output=True,
                         text=True).stdout.strip()
    port = free_port()
    argv = [str(BIN / "embkit"), "serve", str(folder), "--host", "127.0.0.1", "--port", str(port),
            "--keys-file", str(keys), "--log-level", args.embkit_log_level, "--workers", str(args.embkit_workers)]
    server = start("embkit", argv, {**env, "EMBKIT_HOME": str(home)}, port, "/health", tmp / "embkit.log")
    headers = {"Authorization": f"Bearer {key}"}
    path = f"/collections/{NAME}/search"

    def vec(q):
        return http_request("POST", port, path, json.dumps({"vector": _floats(q), "k": K}).encode(), headers)

    def text(t):
        return http_request("POST", port, path, json.dumps({"query": t, "k": K}).encode(), headers)

    info = {"index": index, "ingest_s": ingest_s, "argv": " ".join(argv),
            "requests": {"vector": [vec(q) for q in data.queries], "text": [text(t) for t in data.query_texts]}}
    return server, info


def embkit_ids(body: bytes) -> tuple[list[str], bool]:
    hits = json.loads(body)["hits"]
    return [h["id"] for h in hits], all(h.get("text") and h.get("metadata", {}).get("title") is not None
                                        for h in hits)


def chroma_side(data: Data, tmp: Path, env: dict, args) -> tuple[Server, dict]:
    """`chroma run` on an empty folder; the collection is created and filled over its
    REST API (cosine HNSW, default graph parameters written out)."""
    port = free_port()
    argv = [str(BIN / "chroma"), "run", "--path", str(tmp / "chroma"), "--host", "127.0.0.1", "--port", str(port)]
    server = start("chroma", argv, env, port, "/api/v2/heartbeat", tmp / "chroma.log")
    base = "/api/v2/tenants/default_tenant/databases/default_database/collections"
    config = {"hnsw": {"space": "cosine", "ef_construction": EFC, "ef_search": EF, "max_neighbors": M}}

    def post(path: str, payload: dict) -> dict:
        status, body = call(port, http_request("POST", port, path, json.dumps(payload).encode()))
        if not 200 <= status < 300:
            raise RuntimeError(f"chroma {path}: HTTP {status}: {body[:500]!r}")
        return json.loads(body)

    started = time.perf_counter()
    created = post(base, {"name": NAME, "configuration": config, "metadata": None, "get_or_create": False})
    cid = created["id"]
    max_batch = json.loads(call(port, http_request("GET", port, "/api/v2/pre-flight-checks"))[1])["max_batch_size"]
    batch = min(1000, max_batch)
    for s in range(0, len(data.ids), batch):
        post(f"{base}/{cid}/add", {"ids": data.ids[s:s + batch], "embeddings": [_floats(v) for v in data.vectors[s:s + batch]],
                                   "documents": data.texts[s:s + batch], "metadatas": data.metadatas[s:s + batch]})
    ingest_s = time.perf_counter() - started
    path = f"{base}/{cid}/query"

    def vec(q):
        payload = {"query_embeddings": [_floats(q)], "n_results": K, "include": ["documents", "metadatas", "distances"]}
        return http_request("POST", port, path, json.dumps(payload).encode())

    got = json.loads(call(port, http_request("GET", port, f"{base}/{NAME}"))[1])
    info = {"index": {"spec": f"hnsw (hnswlib) space=cosine M={M} ef_construction={EFC} ef_search={EF}",
                      "configuration": got.get("configuration_json")},
            "ingest_s": ingest_s, "argv": " ".join(argv), "requests": {"vector": [vec(q) for q in data.queries]}}
    return server, info


def chroma_ids(body: bytes) -> tuple[list[str], bool]:
    res = json.loads(body)
    return res["ids"][0], all(d for d in res["documents"][0]) and all(m and "title" in m for m in res["metadatas"][0]) \
        and len(res["distances"][0]) == len(res["ids"][0])


# ---- running ----------------------------------------------------------------------------

def check(server: Server, requests: list[bytes], parse, truth: list[list[str]]) -> dict:
    """Every query once, one at a time: recall@10 against exact search, and every hit
    carrying its text and metadata (also the first warm-up pass)."""
    conn, found, complete, sizes = Connection(server.port), [], True, []
    try:
        for raw in requests:
            status, body = conn.request(raw)
            if status != 200:
                raise RuntimeError(f"{server.label}: HTTP {status}: {body[:500]!r}")
            ids, full = parse(body)
            found.append(ids)
            sizes.append(len(body))
            complete &= full
    finally:
        conn.close()
    return {"recall@10": recall(found, truth), "hits_have_text_and_metadata": complete,
            "response_bytes_mean": float(np.mean(sizes)), "request_bytes_mean": float(np.mean([len(r) for r in requests]))}


def run_side(label: str, make, parse, data: Data, args, tmp: Path, env: dict) -> dict:
    server, info = make(data, tmp, env, args)
    out = {"server": server.label, "argv": info["argv"], "index": info["index"], "ingest_s": round(info["ingest_s"], 2),
           "startup_s": round(server.startup_s, 2), "after_start": settled_memory_mib(server.pid), "rows": {}}
    print(f"[{label}] up in {server.startup_s:.1f} s (ingest {info['ingest_s']:.1f} s), index: "
          f"{info['index'].get('spec')}", flush=True)
    try:
        for kind, requests in info["requests"].items():
            if kind not in args.rows:
                continue
            quality = check(server, requests, parse, data.truth)
            if args.warmup > 0:
                load(server.port, requests, 8, args.warmup, server.pid)  # warm-up, discarded
            row = {**quality, "levels": []}
            print(f"[{label} {kind}] recall@10 {quality['recall@10']:.4f}; hits carry text+metadata: "
                  f"{quality['hits_have_text_and_metadata']}", flush=True)
            for clients in args.concurrency:
                res = load(server.port, requests, clients, args.duration, server.pid)
                row["levels"].append(res)
                print(f"  {clients:>3} clients: p50 {res['p50_ms']:7.2f} ms  p99 {res['p99_ms']:7.2f} ms  "
                      f"{res['rps']:8.1f} req/s  errors {res['errors']}  server {res['server_cpu_ms_per_request']:.2f} "
                      f"CPU-ms/req  client {res['client_cpu_us_per_request']:.0f} CPU-µs/req  other "
                      f"{res['other_cores']:.2f} cores", flush=True)
            row["memory"] = memory_mib(server.pid)  # VmHWM only grows: the peak up to this row's end
            out["rows"][kind] = row
        out["memory"] = memory_mib(server.pid)
    finally:
        server.stop()
        RUNNING.remove(server)
    return out


def table(report: dict) -> str:
    sides = report["sides"]
    rows = [(f"embkit ({kind})" if name == "embkit" else f"chroma ({kind})", name, kind)
            for name in sides for kind in sides[name]["rows"]]
    lines = ["| clients | side | index | recall@10 | p50 ms | p99 ms | req/s | server CPU-ms/req | peak RSS MiB |",
             "|---|---|---|---|---|---|---|---|---|"]
    for li, clients in enumerate(report["args"]["concurrency"]):
        for label, name, kind in rows:
            row = sides[name]["rows"][kind]
            lev = row["levels"][li]
            lines.append(f"| {clients} | {label} | {sides[name]['index_short']} | {row['recall@10']:.3f} | "
                         f"{lev['p50_ms']:.2f} | {lev['p99_ms']:.2f} | {lev['rps']:,.0f} | "
                         f"{lev['server_cpu_ms_per_request']:.2f} | {row['memory']['peak_rss_mib']:.0f} |")
    return "\n".join(lines)


def ratios(report: dict) -> list[dict]:
    sides = report["sides"]
    if "embkit" not in sides or "chroma" not in sides:
        return []
    out = []
    for li, clients in enumerate(report["args"]["concurrency"]):
        theirs = sides["chroma"]["rows"]["vector"]["levels"][li]
        for kind in sides["embkit"]["rows"]:
            ours = sides["embkit"]["rows"][kind]["levels"][li]
            p99, rps = ours["p99_ms"] / theirs["p99_ms"], ours["rps"] / theirs["rps"]
            target = kind == "vector"  # the text row is information only: Chroma's server cannot embed
            out.append({"clients": clients, "embkit": kind, "p99_ratio": p99, "throughput_ratio": rps,
                        "p50_ratio": ours["p50_ms"] / theirs["p50_ms"],
                        "p99_ok": p99 <= TARGETS["p99_ratio_max"] if target else None,
                        "throughput_ok": rps >= TARGETS["throughput_ratio_min"] if target else None})
    return out


def memory_ratios(report: dict) -> list[str]:
    """embkit's RSS over Chroma's server's, after start and at the peak of each row (Chroma
    has the vector row only; the text row also holds the query encoder, which Chroma's
    server does not have: its client embeds)."""
    sides = report["sides"]
    if "embkit" not in sides or "chroma" not in sides:
        return []
    ours, theirs = sides["embkit"], sides["chroma"]
    limit = TARGETS["rss_ratio_max"]
    ratio = ours["after_start"]["rss_mib"] / theirs["after_start"]["rss_mib"]
    lines = [f"RSS after start, embkit/chroma: {ratio:.2f}x ({'OK' if ratio <= limit else 'MISS'}, target <= {limit})"]
    peak = theirs["rows"]["vector"]["memory"]["peak_rss_mib"]
    for kind, row in ours["rows"].items():
        ratio = row["memory"]["peak_rss_mib"] / peak
        verdict = f"{'OK' if ratio <= limit else 'MISS'}, target <= {limit}" if kind == "vector" else "information only"
        lines.append(f"peak RSS, embkit {kind} row / chroma: {ratio:.2f}x ({verdict})")
    return lines


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "scifact"), help="the SciFact BEIR folder")
    p.add_argument("--duration", type=float, default=15.0, help="seconds per concurrency level")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up at 8 clients per row (discarded)")
    p.add_argument("--concurrency", default="1,8,32", help="comma list of client counts")
    p.add_argument("--sides", default="embkit,chroma", help="comma list, in the order they run: embkit, chroma")
    p.add_argument("--rows", default="vector,text", help="embkit rows: vector (the query's vector sent), text (the "
                   "server embeds the query text); Chroma always gets the vector")
    p.add_argument("--embkit-log-level", default="info", help="`embkit serve --log-level` (info, its default, "
                   "logs a line per request, as Chroma's default logs each query)")
    p.add_argument("--embkit-workers", type=int, default=2, help="`embkit serve --workers` (server processes; "
                   "2 = the cores here, as Chroma's server uses every core)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (server logs, collections)")
    p.add_argument("--out", default=str(RESULTS / "bench_server.json"))
    args = p.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    args.sides = args.sides.split(",")
    args.rows = args.rows.split(",") + ["vector"]
    return args


def main() -> None:
    args = parse_args()
    command = " ".join([".venv/bin/python", "benchmarks/bench_server.py", *sys.argv[1:]])
    started = time.perf_counter()
    data = load_data(Path(args.data))
    print(f"{len(data.ids)} documents, {len(data.query_texts)} queries, k={K}", flush=True)
    env = {k: v for k, v in os.environ.items()}
    tmp = Path(tempfile.mkdtemp(prefix="bench-server-"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the servers are stopped
    report = {"command": command, "machine": machine(["embkit", "chromadb", "fastapi", "uvicorn", "pydantic",
                                                       "starlette", "numpy", "faiss-cpu"]),
              "args": {k: v for k, v in vars(args).items()}, "k": K,
              "data": {"documents": len(data.ids), "queries": len(data.query_texts), "dim": int(data.vectors.shape[1]),
                       "source": "SciFact corpus (title + text), test queries; all-MiniLM-L6-v2 via embkit"},
              "client": "one thread per client, one keep-alive HTTP/1.1 connection each (raw socket, prebuilt "
                        "request bytes; reads status and body, does not parse JSON in the timed loop)",
              "sides": {}}
    try:
        for name in args.sides:
            make, parse = {"embkit": (embkit_side, embkit_ids), "chroma": (chroma_side, chroma_ids)}[name]
            side = run_side(name, make, parse, data, args, tmp, env)
            side["index_short"] = f"{side['index'].get('spec')}" if name == "embkit" else \
                f"hnsw:M={M},efc={EFC},ef={EF}"
            report["sides"][name] = side
    finally:
        stop_all()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")
    report["ratios"] = ratios(report)
    report["elapsed_s"] = round(time.perf_counter() - started, 1)
    print("\n" + table(report) + "\n")
    if report["ratios"]:
        print("| clients | embkit row | p50 embkit/chroma | p99 embkit/chroma | req/s embkit/chroma |\n|---|---|---|---|---|")
        for r in report["ratios"]:
            print(f"| {r['clients']} | {r['embkit']} | {r['p50_ratio']:.2f}x | {r['p99_ratio']:.2f}x | "
                  f"{r['throughput_ratio']:.2f}x |")
        print()
    for r in report["ratios"]:
        if r["embkit"] == "vector":  # the targets: same query vectors on both sides
            print(f"{r['clients']:>3} clients, embkit vs chroma (both given the query vector): p99 {r['p99_ratio']:.2f}x "
                  f"({'OK' if r['p99_ok'] else 'MISS'}, target <= 1), throughput {r['throughput_ratio']:.2f}x "
                  f"({'OK' if r['throughput_ok'] else 'MISS'}, target >= 2)")
        else:
            print(f"{r['clients']:>3} clients, embkit embedding the query text itself vs chroma given the vector "
                  f"(information only): p99 {r['p99_ratio']:.2f}x, throughput {r['throughput_ratio']:.2f}x")
    for name, side in report["sides"].items():
        peaks = ", ".join(f"{kind} {row['memory']['peak_rss_mib']:.0f} MiB (PSS {row['memory']['pss_mib']:.0f})"
                          for kind, row in side["rows"].items())
        start = side["after_start"]
        print(f"{name}: {start['processes']} processes; RSS after start {start['rss_mib']:.0f} MiB (PSS "
              f"{start['pss_mib']:.0f}); peak RSS after rows: {peaks}; index {side['index_short']}")
    for line in memory_ratios(report):
        print(line)
    busy = max(lev["other_cores"] for s in report["sides"].values() for r in s["rows"].values() for lev in r["levels"])
    if busy > 0.05:
        print(f"note: other processes used up to {busy:.2f} cores during a timed run")
    blas = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS")}
    print(f"OPENBLAS environment (same for both servers): {blas or 'none set'}")
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(f"written to {args.out} in {report['elapsed_s']:.0f} s\ncommand: {command}")


if __name__ == "__main__":
    main()
