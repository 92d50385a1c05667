"""Reads from a streaming replica (`--read-url`, `embkit.open(url, read_url=…)`): a write
to the primary, through the library or `embkit add`, is read from the replica once it
has caught up, and not before (replay is paused to show that the reads go there);
writes through a collection opened with a replica still go to the primary."""

from contextlib import contextmanager

import pytest

import embkit

from live_server import LiveServer, create_key, embkit_cli
from pg_docs import MEMORY_QUERY, TEXTS, cli, cli_json, collection_url, write_jsonl
from pg_server import PostgresServer, available, wait_replica_caught_up

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

NEW = {"kiwi": ("Kiwi fruit is rich in vitamin C.", {"topic": "food", "year": 2025})}


@pytest.fixture(scope="module")
def servers():
    primary = PostgresServer().start()
    try:
        replica = primary.add_replica()
        url = collection_url(primary, "rep")
        with embkit.create(url) as col:
            col.add([t for t, _ in TEXTS.values()], ids=list(TEXTS), metadatas=[m for _, m in TEXTS.values()])
        wait_replica_caught_up(primary, replica)
        yield primary, replica, url, replica.url_for("rep")
    finally:
        primary.stop()


def ids_found(url, read_url, query) -> list[str]:
    return [h["id"] for h in cli_json("search", url, query, "-k", "3", *(["--read-url", read_url] if read_url else []))
            ["hits"]]


@contextmanager
def paused(replica):
    """Replay paused inside: what the primary writes meanwhile stays unseen on the replica."""
    replica.execute("SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        replica.execute("SELECT pg_wal_replay_resume()")


def test_a_write_is_read_from_the_replica_after_catch_up(servers, tmp_path):
    primary, replica, url, read_url = servers
    with paused(replica):
        with embkit.open(url) as col:
            col.add(["Penguins are birds that cannot fly but swim well."], ids=["penguin"])
        cli("add", url, write_jsonl(tmp_path / "new.jsonl", NEW))
        assert ids_found(url, None, "vitamin C fruit")[0] == "kiwi"
        assert "kiwi" not in ids_found(url, read_url, "vitamin C fruit")  # the replica is behind: reads go there
        with embkit.open(url, read_url=read_url) as col:
            assert col.get(["penguin", "kiwi"]) == [] and col.count() == len(TEXTS)
    wait_replica_caught_up(primary, replica)
    assert ids_found(url, read_url, "vitamin C fruit")[0] == "kiwi"
    assert ids_found(url, read_url, "birds that swim")[0] == "penguin"
    with embkit.open(url, read_url=read_url) as col:
        assert [d.id for d in col.get(["penguin", "kiwi"])] == ["penguin", "kiwi"]
        assert col.count() == len(TEXTS) + 2
        assert col.search("birds that swim", k=1)[0].id == "penguin"


def test_read_url_forms(servers):
    """In the URL (`&read_url=`), or in the primary URL's own form (`?collection=`)."""
    primary, replica, url, read_url = servers
    wait_replica_caught_up(primary, replica)
    with embkit.open(url) as on_primary:
        count = on_primary.count()
    with embkit.open(f"{url}&read_url={read_url}") as col:
        assert col.count() == count >= len(TEXTS)
    assert ids_found(url, f"{read_url}?collection=docs", MEMORY_QUERY)[0] == "rust"


def test_writes_through_a_replica_reader_go_to_the_primary(servers):
    primary, replica, url, read_url = servers
    with embkit.open(url, read_url=read_url) as col:
        col.add(["Owls hunt at night."], ids=["owl"], metadatas=[{"topic": "birds"}])
        assert col.delete(["tea"]) == 1
    with embkit.open(url) as col:  # at once: the primary has them, whatever the replica's lag
        assert [d.id for d in col.get(["owl", "tea"])] == ["owl"]
    wait_replica_caught_up(primary, replica)
    with embkit.open(url, read_url=read_url) as col:
        assert [d.id for d in col.get(["owl", "tea"])] == ["owl"]


def test_server_reads_from_the_replica(servers, tmp_path):
    primary, replica, url, read_url = servers
    key = create_key(tmp_path / "keys.json", "write")
    live = LiveServer([url, "--read-url", read_url, "--keys-file", str(tmp_path / "keys.json")], tmp_path / "log")
    try:
        with live.client(key) as client:
            body = {"query": "ice and dust tail", "k": 1}
            with paused(replica):
                r = client.post("/collections/docs/add", json={"documents": [
                    {"id": "comet", "text": "A comet has a tail of ice and dust."}]})
                assert r.status_code == 201, r.text
                assert client.post("/collections/docs/search", json=body).json()["hits"][0]["id"] != "comet"
            wait_replica_caught_up(primary, replica)
            assert client.post("/collections/docs/search", json=body).json()["hits"][0]["id"] == "comet"
    finally:
        assert live.stop() == 0


def test_a_replica_url_refuses_writes(servers, tmp_path):
    primary, replica, url, read_url = servers
    on_replica = f"{read_url}?collection=docs"
    zebra = write_jsonl(tmp_path / "zebra.jsonl", {"zebra": ("Zebras have stripes.", {})})
    for args in (("init", f"{read_url}?collection=other"), ("add", on_replica, zebra), ("delete", on_replica, "py")):
        done = embkit_cli(*args)
        assert done.returncode == 1 and done.stderr.splitlines()[-1] == (
            "error: url: the server is read-only (a streaming replica?); write through the primary's URL and "
            "give the replica as read_url"), done.stderr
    with embkit.open(url) as col:
        assert [d.id for d in col.get(["py", "zebra"])] == ["py"]
