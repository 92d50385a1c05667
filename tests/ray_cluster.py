"""A two-node Ray cluster on 127.0.0.1 and real input shards for the distributed tests
(a plain module, like corpora.py: `conftest` names clash between folders)."""

import json
import os
from pathlib import Path

import psutil
import pytest

from corpora import DATA

LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1"}  # IPv4 loopback, also as an IPv4-mapped IPv6 address


def start_cluster(tmp: Path, nodes: int = 2):
    """Two nodes of one CPU each, object store capped at 150 MiB a node, usage stats
    off, temp dir under the test's tmp folder, everything on 127.0.0.1."""
    pytest.importorskip("ray")
    from embkit.distributed import LoopbackCluster

    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    return LoopbackCluster(nodes=nodes, cpus_per_node=1, object_store_memory=150 * 1024 * 1024, temp_dir=tmp)


def ray_processes() -> list[psutil.Process]:
    """This process (the driver) and every process it started, directly or not: the
    nodes' GCS, raylets, agents and workers."""
    me = psutil.Process()
    return [me, *me.children(recursive=True)]


def foreign_sockets(processes: list[psutil.Process]) -> list[str]:
    """Every inet socket of `processes` (listening or connected) with an end that is
    not 127.0.0.1, described; an empty list is the wanted answer."""
    found = []
    for process in processes:
        try:
            connections = process.net_connections(kind="inet")
            name = process.name()
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        for c in connections:
            ends = [a for a in (c.laddr, c.raddr) if a]
            if any(a.ip not in LOOPBACK for a in ends):
                found.append(f"{process.pid} {name}: {c.laddr} -> {c.raddr or '-'} {c.status}")
    return found


def sockets_checked(processes: list[psutil.Process]) -> int:
    """How many inet sockets `processes` hold (so a check of none is not vacuous)."""
    total = 0
    for process in processes:
        try:
            total += len(process.net_connections(kind="inet"))
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            pass
    return total


def actor_pids(name: str = "EmbedShards") -> list[int]:
    """Processes of live Ray actors whose title names `name` (Ray sets a worker's
    process title to `ray::<actor class>...`)."""
    pids = []
    for process in ray_processes():
        try:
            title = " ".join(process.cmdline())
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        if title.startswith("ray::") and name in title:
            pids.append(process.pid)
    return pids


def scifact_abstracts(n: int, chars: int = 300) -> list[dict]:
    """The first n SciFact documents: id, title and the abstract cut to `chars`."""
    corpus = DATA / "scifact" / "corpus.jsonl"
    rows = []
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            if doc["text"].strip():
                rows.append({"id": doc["_id"], "title": doc["title"], "text": doc["text"][:chars]})
            if len(rows) == n:
                break
    return rows


def write_shards(folder: Path, rows: list[dict], shards: int) -> list[Path]:
    """`rows` in `shards` files, alternately jsonl and parquet (`part-000.jsonl`, ...)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    per = -(-len(rows) // shards)
    paths = []
    for s in range(shards):
        part = rows[s * per:(s + 1) * per]
        if s % 2 == 0:
            path = folder / f"part-{s:03d}.jsonl"
            path.write_text("".join(json.dumps(r) + "\n" for r in part), encoding="utf-8")
        else:
            path = folder / f"part-{s:03d}.parquet"
            pq.write_table(pa.Table.from_pylist(part), path)
        paths.append(path)
    return paths
