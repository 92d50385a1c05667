"""`embkit serve --workers 2`: two processes on one port, each with its own handles and
indexes over the same folders. Every connection may land on either, so each check is
made over many fresh connections: both processes answer, a write through one is seen by
the other at once, and a collection deleted (or deleted and made anew) through one is
never served from the other's stale handle."""

import re

import pytest

from live_server import LiveServer, create_key

FRESH = 24  # fresh connections per check: with two workers, both are hit (1 - 2**-23 likely)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("workers")
    (root / "cols").mkdir()
    keys_file = root / "keys.json"
    key = create_key(keys_file, "admin")
    live = LiveServer(["--root", str(root / "cols"), "--keys-file", str(keys_file), "--workers", "2"],
                      root / "server.log")
    yield live, key
    assert live.stop() == 0


def _fresh(live, key, method: str, path: str, **kwargs) -> list:
    answers = []
    for _ in range(FRESH):
        with live.client(key) as client:  # a new connection each time
            answers.append(client.request(method, path, **kwargs))
    return answers


def _vector(i: int) -> list[float]:
    return [1.0 if j == i else 0.0 for j in range(8)]


def test_both_workers_answer_and_see_each_others_writes(served):
    live, key = served
    with live.client(key) as client:
        assert client.post("/collections", json={"name": "shared", "model": None, "dim": 8}).status_code == 201
    for i in range(6):  # each write then a read on other connections: the read always sees it
        with live.client(key) as client:
            r = client.post("/collections/shared/add", json={"documents": [{"id": f"d{i}", "vector": _vector(i)}]})
            assert r.status_code == 201, r.text
        for r in _fresh(live, key, "POST", "/collections/shared/search", json={"vector": _vector(i), "k": 1})[:6]:
            assert r.status_code == 200 and r.json()["hits"][0]["id"] == f"d{i}", r.text
    counts = {r.json()["count"] for r in _fresh(live, key, "GET", "/collections/shared")}
    assert counts == {6}
    pids = set(re.findall(r"^\S+ \S+ (\d+) embkit\.server INFO ", live.log.read_text(), re.M))
    assert len(pids - {str(live.process.pid)}) == 2, pids  # request lines from both workers (not the supervisor)


def test_deleted_and_remade_collection_is_never_served_stale(served):
    live, key = served
    with live.client(key) as client:
        assert client.post("/collections", json={"name": "gone", "model": None, "dim": 8}).status_code == 201
        client.post("/collections/gone/add", json={"documents": [{"id": "old", "vector": _vector(0)}]})
    body = {"vector": _vector(0), "k": 1}
    assert {r.json()["hits"][0]["id"] for r in _fresh(live, key, "POST", "/collections/gone/search", json=body)} \
        == {"old"}  # now both workers hold it open
    with live.client(key) as client:
        assert client.delete("/collections/gone").status_code in (200, 204)
    assert {r.status_code for r in _fresh(live, key, "POST", "/collections/gone/search", json=body)} == {404}
    with live.client(key) as client:
        assert client.post("/collections", json={"name": "gone", "model": None, "dim": 8}).status_code == 201
        client.post("/collections/gone/add", json={"documents": [{"id": "new", "vector": _vector(0)}]})
    answers = _fresh(live, key, "POST", "/collections/gone/search", json=body)
    assert {r.json()["hits"][0]["id"] for r in answers} == {"new"}
    assert {r.json()["count"] for r in _fresh(live, key, "GET", "/collections/gone")} == {1}


def _workers(live) -> list:
    """The worker processes: the supervisor's children that listen on the port."""
    import psutil

    found = []
    for child in psutil.Process(live.process.pid).children():
        try:
            if any(c.laddr.port == live.port and c.status == psutil.CONN_LISTEN for c in child.net_connections("tcp")):
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def test_a_burst_of_keep_alive_clients_is_spread_over_both_workers(served):
    """Each worker has its own SO_REUSEPORT socket, so the kernel spreads connections;
    with one shared socket a burst could all land on one worker."""
    import psutil

    live, key = served
    workers = _workers(live)
    assert len(workers) == 2
    clients = [live.client(key) for _ in range(16)]
    try:
        for client in clients:  # opened together and kept open, as a load generator does
            assert client.get("/collections").status_code == 200
        held = {w.pid: sum(c.laddr.port == live.port and c.status == psutil.CONN_ESTABLISHED
                           for c in w.net_connections("tcp")) for w in workers}
    finally:
        for client in clients:
            client.close()
    assert sum(held.values()) == 16 and min(held.values()) >= 1, held  # all on one: 2**-15 likely


def test_the_supervisor_holds_no_library_and_runs_only_the_workers(served):
    """`embkit serve --workers 2` becomes a lean supervisor (same pid): it maps no numpy,
    FAISS or pydantic code, and its only children are the two workers (no
    multiprocessing resource tracker)."""
    from pathlib import Path

    import psutil

    live, _ = served
    maps = Path(f"/proc/{live.process.pid}/maps").read_text()
    assert [lib for lib in ("numpy", "faiss", "pydantic_core", "onnxruntime") if lib in maps] == []
    children = sorted(child.pid for child in psutil.Process(live.process.pid).children())
    assert len(children) == 2 and children == sorted(worker.pid for worker in _workers(live))


def test_a_killed_worker_is_replaced_and_no_request_fails(served):
    import signal as signals
    import time

    live, key = served
    victim = _workers(live)[0]
    victim.send_signal(signals.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        current = _workers(live)
        if len(current) == 2 and victim.pid not in {w.pid for w in current}:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("no worker replaced the killed one")
    # connections the kernel gave the dead worker's socket wait for its successor: none fails
    assert {r.status_code for r in _fresh(live, key, "GET", "/collections")} == {200}
