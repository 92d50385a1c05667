"""Distributed work on a real two-node Ray cluster on 127.0.0.1: ingest of 2,000 SciFact
abstracts in 8 shards equals the single-machine path; a killed worker, or a killed
driver, does not lose the job; BEIR evaluation and k-means give the local answers;
no Ray socket leaves loopback."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

pytest.importorskip("ray")

import embkit  # noqa: E402
from embkit.distributed import ingest_distributed  # noqa: E402
from embkit.ingest.bulk import import_shards  # noqa: E402
from embkit.ingest.shards import Manifest, ingest_local, read_shard  # noqa: E402

from ray_cluster import (  # noqa: E402
    actor_pids,
    foreign_sockets,
    ray_processes,
    scifact_abstracts,
    sockets_checked,
    start_cluster,
    write_shards,
)

N_DOCS, N_SHARDS = 2000, 8


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = start_cluster(tmp_path_factory.mktemp("ray"))
    try:
        yield cluster
        leftovers = foreign_sockets(ray_processes())
    finally:
        cluster.shutdown()
    assert not leftovers, "Ray sockets off loopback:\n" + "\n".join(leftovers)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("inputs")
    write_shards(folder, scifact_abstracts(N_DOCS), N_SHARDS)
    return folder


@pytest.fixture(scope="module")
def reference(inputs, tmp_path_factory) -> Path:
    """The same shards embedded in this process (`ingest_local`)."""
    out = tmp_path_factory.mktemp("local") / "vectors"
    summary = ingest_local([str(inputs)], out)
    assert summary["processed"] == N_SHARDS and summary["documents"] == N_DOCS
    return out


def shards_of(out: Path) -> dict:
    return {p.name: read_shard(p, 384) for p in sorted(out.glob("*.parquet"))}


def assert_same_vectors(out: Path, reference: Path) -> None:
    """Same files, ids, texts and metadata; every vector at cosine >= 0.9999."""
    got, want = shards_of(out), shards_of(reference)
    assert sorted(got) == sorted(want) and len(got) == N_SHARDS
    for name, rows in want.items():
        assert got[name].ids == rows.ids
        assert got[name].texts == rows.texts
        assert got[name].metadatas == rows.metadatas
        cosine = np.sum(got[name].vectors * rows.vectors, axis=1)
        assert cosine.min() >= 0.9999, (name, float(cosine.min()))


def test_two_node_job_equals_single_machine(cluster, inputs, reference, tmp_path, minilm):
    out = tmp_path / "vectors"
    seen = []
    summary = ingest_distributed([str(inputs)], out, "minilm", address=cluster.address,
                                 workers=2, cpus_per_worker=0.5, on_shard=seen.append)
    assert summary["processed"] == N_SHARDS and summary["skipped"] == 0 and not summary["failed"]
    assert summary["documents"] == N_DOCS and summary["total_rows"] == N_DOCS
    assert sorted(r.output for r in seen) == [f"part-{i:03d}.parquet" for i in range(N_SHARDS)]
    assert_same_vectors(out, reference)
    # the records' own ids (column `id`, as `embkit add` reads them), the other columns as metadata
    first = read_shard(out / "part-000.parquet", 384)
    assert first.ids[:2] == [row["id"] for row in scifact_abstracts(2)]
    assert first.metadatas[0] == {"title": scifact_abstracts(1)[0]["title"], "parent": first.ids[0],
                                  "source": str(inputs / "part-000.jsonl")}  # found in a folder, as add names it
    # and the vectors are what the encoder itself gives for those texts
    rows = [read_shard(out / f"part-{i:03d}.parquet", 384) for i in range(N_SHARDS)]
    texts = [t for r in rows for t in r.texts]
    vectors = np.concatenate([r.vectors for r in rows])
    assert np.sum(vectors * minilm.encode(texts), axis=1).min() >= 0.9999
    manifest = Manifest.load(out)
    assert manifest.data["model"] == "minilm" and manifest.data["dim"] == 384 and manifest.data["pending"] == []
    assert len(manifest.shards) == N_SHARDS


def test_ray_sockets_stay_on_loopback(cluster):
    processes = ray_processes()
    names = {p.name() for p in processes}
    assert {"gcs_server", "raylet"} <= names, names
    assert sockets_checked(processes) >= 10
    assert foreign_sockets(processes) == []


def test_killed_worker_job_still_completes(cluster, inputs, reference, tmp_path):
    out = tmp_path / "vectors"
    killed, raylets, workers, stop = [], set(), set(), threading.Event()

    def kill_one_worker_mid_job():
        while not stop.is_set():
            pids = actor_pids("EmbedShards")
            workers.update(pids)
            for pid in pids:
                try:
                    raylets.add(psutil.Process(pid).ppid())  # a worker's parent is its node's raylet
                except psutil.NoSuchProcess:
                    pass
            manifest = Manifest.load(out) if (out / "manifest.json").exists() else None
            if not killed and pids and manifest is not None and len(manifest.shards) >= 1:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.05)

    watcher = threading.Thread(target=kill_one_worker_mid_job, daemon=True)
    watcher.start()
    try:
        summary = ingest_distributed([str(inputs)], out, "minilm", address=cluster.address, workers=2)
    finally:
        stop.set()
        watcher.join()
    assert killed, "no worker was found to kill"
    assert len(workers) >= 3, "a replacement worker should have started"
    assert len(raylets) == 2, "the two workers should run on the two nodes"
    assert summary["shards"] == N_SHARDS and not summary["failed"]
    assert summary["processed"] == N_SHARDS and summary["total_rows"] == N_DOCS
    assert not list(out.glob("*.tmp"))
    assert_same_vectors(out, reference)


def test_rerun_after_killed_driver_does_only_unfinished_shards(cluster, inputs, reference, tmp_path):
    out = tmp_path / "vectors"
    log = tmp_path / "driver.log"
    with open(log, "w") as sink:
        # `auto` finds the cluster through $RAY_TMPDIR/ray/ray_current_cluster, as after `ray start`
        driver = subprocess.Popen([sys.executable, "-m", "embkit.cli", "ingest-distributed", "--address", "auto",
                                   "--input", str(inputs), "-o", str(out), "--workers", "1", "--json"],
                                  stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, "RAY_ADDRESS": ""})
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and driver.poll() is None:
            if (out / "manifest.json").exists() and len(Manifest.load(out).shards) >= 2:
                break
            time.sleep(0.05)
        assert driver.poll() is None, log.read_text()
        driver.kill()  # the driver dies mid-job: Ray ends its workers
        driver.wait()
    finally:
        if driver.poll() is None:
            driver.kill()
    before = Manifest.load(out).shards
    assert 2 <= len(before) < N_SHARDS
    mtimes = {e["output"]: (out / e["output"]).stat().st_mtime_ns for e in before.values()}
    seen = []
    summary = ingest_distributed([str(inputs)], out, "minilm", address=cluster.address, on_shard=seen.append)
    assert summary["skipped"] == len(before) and summary["processed"] == N_SHARDS - len(before)
    assert {r.path for r in seen} == {str(p.resolve()) for p in inputs.iterdir()} - set(before)
    assert {name: (out / name).stat().st_mtime_ns for name in mtimes} == mtimes  # finished shards untouched
    assert_same_vectors(out, reference)
    again = ingest_distributed([str(inputs)], out, "minilm", address=cluster.address)
    assert again["processed"] == 0 and again["skipped"] == N_SHARDS


def test_eval_retrieval_on_ray_equals_local(cluster, small_beir):
    from embkit.evaluate.retrieval import eval_retrieval

    local = eval_retrieval(small_beir, "test", "dense", collections=embkit)
    on_ray = eval_retrieval(small_beir, "test", "dense", ray_address=cluster.address, collections=embkit)
    assert on_ray["settings"]["ray_address"] == cluster.address
    assert on_ray["documents"] == local["documents"]
    for name, value in local["metrics"].items():
        assert on_ray["metrics"][name] == pytest.approx(value, abs=1e-4), name


def test_kmeans_assignment_on_ray_equals_local(cluster, reference, tmp_path, one_thread):
    from embkit.distributed import assign_nearest

    with embkit.create(tmp_path / "col") as col:
        import_shards(col, reference)
        local = col.cluster(k=8, field="local", seed=1)
        spread = col.cluster(k=8, field="spread", seed=1, ray_address=cluster.address)
        assert spread.labels == local.labels
        assert any("Ray" in note for note in spread.notes)
        table = col.table()
    centroids = table.vectors[:8]
    blocks = assign_nearest(centroids, table.vectors, True, cluster.address, block_rows=300)
    assert np.array_equal(blocks, np.argmax(table.vectors @ centroids.T, axis=1))
