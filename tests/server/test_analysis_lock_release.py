"""A long analysis (a t-SNE map of 10k documents: minutes) held the collection's read
lock for all of it; the lock prefers writers, so an upsert queued behind it and every
later request for the collection queued behind the upsert. The routes now read what
they need under the lock and compute outside it. The interleaving is exact: the
projection thread pauses inside the computation (tests/thread_pause.py) while an
upsert and a GET are made; both must answer while it is still paused. In process
(Starlette's TestClient, the real app, the real lock and thread pool), since a pause
hook cannot reach into a subprocess."""

import threading
from contextlib import contextmanager

import numpy as np
from fastapi.testclient import TestClient

import embkit
from embkit.analysis import cluster, coordinates
from embkit.server.app import create_app
from embkit.server.hosting import Collections

N, DIM = 40, 8
HOLD = 60  # the paused projection waits this long at most for the test (thread_pause's 10 s let it go too soon)


def _paused_in(module, function: str, reached: threading.Event, go: threading.Event):
    """A tracer pausing the thread that runs module.function at its first line."""
    def tracer(frame, event, arg):
        if frame.f_code.co_filename == module.__file__ and frame.f_code.co_name == function:
            reached.set()
            go.wait(HOLD)
        return None

    return tracer


def _client(tmp_path):
    x = np.random.default_rng(0).normal(size=(N, DIM)).astype(np.float32)
    with embkit.create(tmp_path / "docs", model=None, dim=DIM) as col:
        col.add(ids=[f"d{i}" for i in range(N)], vectors=x, texts=[f"text {i}" for i in range(N)])
    collections = Collections([tmp_path / "docs"])
    return x, collections, TestClient(create_app(collections, None))


@contextmanager
def _paused_client(tmp_path, module, function: str):
    """(vectors, client, reached, go) on a served collection, every thread started inside
    pausing at module.function's first line until `go`; the tracer, the pause and the
    collections undone on the way out."""
    x, collections, client = _client(tmp_path)
    reached, go = threading.Event(), threading.Event()
    # every thread started from now on (the client's loop and its worker threads) carries the tracer
    threading.settrace(_paused_in(module, function, reached, go))
    try:
        with client:
            yield x, client, reached, go
    finally:
        threading.settrace(None)
        go.set()
        collections.close()


def _upsert_moved(client, x):
    """d1 upserted with another vector and the text 'moved' (the write landing meanwhile)."""
    return client.post("/collections/docs/upsert", json={"documents": [
        {"id": "d1", "vector": (-x[1]).tolist(), "text": "moved"}]})


def _run(name: str, call, finished: list, results: dict) -> threading.Thread:
    def body():
        results[name] = call()
        finished.append(name)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread


def test_an_upsert_and_a_read_answer_while_a_projection_computes(tmp_path):
    finished, results = [], {}
    with _paused_client(tmp_path, coordinates, "_reduce") as (x, client, reached, go):
        mapper = _run("map", lambda: client.get("/collections/docs/map", params={"method": "pca"}),
                      finished, results)
        assert reached.wait(10)  # the projection is computing, paused
        upsert = _run("upsert", lambda: _upsert_moved(client, x), finished, results)
        upsert.join(HOLD / 2)  # before: queued behind the map's read lock until the map ended
        reader = _run("get", lambda: client.get("/collections/docs"), finished, results)
        reader.join(HOLD / 2)  # before: queued behind the upsert
        during = list(finished)
        go.set()
        mapper.join(20)
        upsert.join(20)
        reader.join(20)
    assert during == ["upsert", "get"]  # both answered while the map was still computing
    assert finished == ["upsert", "get", "map"]
    assert results["upsert"].status_code == 200 and results["get"].status_code == 200
    points = results["map"].json()["points"]
    assert results["map"].status_code == 200 and len(points) == N  # the rows as they were read
    assert {p["id"]: p["text"] for p in points}["d1"] == "moved"  # texts are read after, as they are now


def test_a_read_answers_while_clustering_runs_and_a_write_meanwhile_stores_no_labels(tmp_path):
    """cluster held the WRITE lock for the whole k-means: even a GET waited. A write that
    lands while it computes makes it store nothing (409: run it again) rather than label
    rows as they no longer are."""
    finished, results = [], {}
    with _paused_client(tmp_path, cluster, "_kmeans") as (x, client, reached, go):
        clusterer = _run("cluster", lambda: client.post("/collections/docs/cluster", json={"k": 2}),
                         finished, results)
        assert reached.wait(10)  # k-means is running, paused
        reader = _run("get", lambda: client.get("/collections/docs"), finished, results)
        reader.join(HOLD / 2)  # before: queued behind the cluster's write lock
        upsert = _run("upsert", lambda: _upsert_moved(client, x), finished, results)
        upsert.join(HOLD / 2)
        during = list(finished)
        go.set()
        clusterer.join(HOLD / 2)
        labelled = client.post("/collections/docs/get", json={"ids": ["d0", "d1"]}).json()
        again = client.post("/collections/docs/cluster", json={"k": 2})  # nothing in between: stored
        stored = client.post("/collections/docs/get", json={"ids": ["d0", "d1"]}).json()
    assert during == ["get", "upsert"] and finished == ["get", "upsert", "cluster"]
    assert results["cluster"].status_code == 409
    assert results["cluster"].json()["error"]["message"] == (
        "cluster: the collection changed while its 40 documents were clustered (another write landed); "
        "no labels were stored, run it again")
    assert all("cluster" not in d["metadata"] for d in labelled["documents"])
    assert again.status_code == 200 and all(d["metadata"]["cluster"] in (0, 1) for d in stored["documents"])


def _paused_request(tmp_path, module, function: str, call):
    """(status and JSON of `call(client)`, completion order, the collection's count after):
    `call` pauses in module.function while a GET and an upsert are made."""
    finished, results = [], {}
    with _paused_client(tmp_path, module, function) as (x, client, reached, go):
        worker = _run("analysis", lambda: call(client), finished, results)
        assert reached.wait(10)
        reader = _run("get", lambda: client.get("/collections/docs"), finished, results)
        reader.join(HOLD / 2)  # before: queued behind the analysis's lock
        upsert = _run("upsert", lambda: _upsert_moved(client, x), finished, results)
        upsert.join(HOLD / 2)
        during = list(finished)
        go.set()
        worker.join(HOLD / 2)
        count = client.get("/collections/docs").json()["count"]
    assert during == ["get", "upsert"] and finished == ["get", "upsert", "analysis"]
    return results["analysis"], count


def test_outliers_answer_of_the_rows_as_read_while_a_write_lands(tmp_path):
    from embkit.analysis import outliers

    answer, count = _paused_request(tmp_path, outliers, "_without_self", lambda c: c.post(
        "/collections/docs/outliers", json={"top": 100, "k": 3}))
    assert answer.status_code == 200 and count == N
    assert sorted(o["id"] for o in answer.json()["results"]) == sorted(f"d{i}" for i in range(N))


def test_a_dedupe_delete_after_a_write_landed_meanwhile_deletes_nothing(tmp_path):
    from embkit.analysis import duplicates

    answer, count = _paused_request(tmp_path, duplicates, "_groups", lambda c: c.post(
        "/collections/docs/dedupe", json={"threshold": -1, "delete": True}))  # all one group: 39 would go
    assert answer.status_code == 409 and count == N
    assert answer.json()["error"]["message"] == ("dedupe: the collection changed while its duplicates were found "
                                                 "(another write landed); nothing was deleted, run it again")
