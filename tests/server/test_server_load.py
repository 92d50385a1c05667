"""16 clients at once, mixed adds and searches (text, filtered, and by vector, which the
fast path answers) for 30 seconds on one collection: no 5xx, no "database is locked",
and no lost writes (the final count equals the number of documents whose add was
acknowledged). With one server process, and with two (`--workers 2`) writing to the
same SQLite file."""

import random
import threading
import time

import pytest

import embkit

from live_server import LiveServer, create_key

CLIENTS, SECONDS = 16, 30
WORDS = ("river mountain market bread engine music garden winter planet ocean library doctor "
         "football camera coffee forest bridge robot violin castle").split()


@pytest.fixture(params=[1, 2], ids=["1-worker", "2-workers"])
def server(tmp_path, request):
    col = embkit.create(tmp_path / "busy")
    col.add(["seed document about rivers and mountains"], ids=["seed"])
    col.close()
    keys_file = tmp_path / "keys.json"
    key = create_key(keys_file, "write")
    live = LiveServer([str(tmp_path / "busy"), "--keys-file", str(keys_file), "--workers", str(request.param)],
                      tmp_path / "server.log")
    yield live, key, tmp_path
    assert live.stop() == 0


def test_mixed_adds_and_searches_lose_nothing(server):
    live, key, folder = server
    acked, statuses, failures, answered, wrong = [], [], [], set(), []
    lock = threading.Lock()
    deadline = time.monotonic() + SECONDS

    def client(n: int) -> None:
        rng = random.Random(n)
        with live.client(key, timeout=120) as c:
            i = 0
            while time.monotonic() < deadline:
                try:
                    if rng.random() < 0.5:
                        ids = [f"c{n}-{i}-{j}" for j in range(rng.randint(1, 4))]
                        docs = [{"id": d, "text": " ".join(rng.choices(WORDS, k=8)), "metadata": {"client": n}}
                                for d in ids]
                        r, kind = c.post("/collections/busy/add", json={"documents": docs}), "add"
                        if r.status_code == 201:
                            with lock:
                                acked.extend(ids)
                    elif rng.random() < 0.3:
                        vector = [rng.gauss(0, 1) for _ in range(384)]
                        r, kind = c.post("/collections/busy/search", json={"vector": vector, "k": 5}), "vector"
                    else:
                        mode = rng.choice(["dense", "keyword", "hybrid"])
                        body = {"query": " ".join(rng.choices(WORDS, k=3)), "k": 5, "mode": mode}
                        kind = mode
                        if rng.random() < 0.3:
                            body["where"] = {"client": rng.randrange(CLIENTS)}
                            kind += " filtered"
                        r = c.post("/collections/busy/search", json=body)
                        if r.status_code == 200:  # at most k hits; a filter returns only its client's
                            hits = r.json()["hits"]
                            want = body.get("where", {}).get("client")
                            if len(hits) > 5 or (want is not None and any(h["metadata"].get("client") != want
                                                                          for h in hits)):
                                with lock:
                                    wrong.append((body, hits))
                    with lock:
                        statuses.append(r.status_code)
                        if r.status_code >= 300:
                            failures.append(r.text)
                        else:
                            answered.add(kind)
                except Exception as e:  # a dropped connection counts as a failure too
                    with lock:
                        failures.append(repr(e))
                i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:5]
    assert sum(s >= 500 for s in statuses) == 0 and not wrong, wrong[:2]
    # every kind of request was answered while the others ran: not a rate, a mix (the
    # clients' seeded choices cover all eight kinds within their first 4 requests each)
    assert answered == {"add", "vector", "dense", "keyword", "hybrid", "dense filtered", "keyword filtered",
                        "hybrid filtered"}, answered
    with live.client(key) as c:
        assert c.get("/collections/busy").json()["count"] == len(acked) + 1
        found = c.post("/collections/busy/get", json={"ids": acked[:1000]}).json()["documents"]
        assert len(found) == min(len(acked), 1000)
    assert "database is locked" not in (folder / "server.log").read_text()
    live.stop()
    col = embkit.open(folder / "busy")  # what the server acknowledged is on disk
    assert col.count() == len(acked) + 1
    col.close()
