"""Documents through every door go down the one write path (ingest/write.py): a document
that fits in one chunk names itself as its `parent` (Python, HTTP, `embkit add`, vectors
given); get/delete/like take a document id or a chunk id over HTTP and the CLI with exact
ids and counts; a bad record rejects the whole batch; and each HTTP add gets back its own
warnings, also when two run at once in the server's threads."""

import json
import threading

import pytest
from typer.testing import CliRunner

import embkit
from embkit.cli import app
from embkit.errors import EmbkitError, EmbkitWarning

from live_server import LiveServer, create_key
from test_documents import TEXT

SHORT = "A short note about violins and their strings."


def cli(*args: str):
    """`embkit ARGS` in this process (the model stays loaded between calls)."""
    return CliRunner().invoke(app, list(args))


def test_a_one_chunk_document_names_itself_as_parent_in_every_door(backend, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text(SHORT)
    with embkit.create(backend("c")) as col:
        assert col.add([SHORT, TEXT], ids=["py", "long"], metadatas=[{"k": 1}, {"k": 2}]) == ["py", "long"]
        col.add_files([str(note)])
        assert [(d.id, d.metadata) for d in col.get(["py", str(note)])] == [
            ("py", {"k": 1, "parent": "py"}),
            (str(note), {"source": str(note), "parent": str(note)}),
        ]
        chunks = col.get(["long"])
        assert len(chunks) > 1 and {d.metadata["parent"] for d in chunks} == {"long"}
        # chunk=False stores whole: still one document naming itself
        col.add([SHORT], ids=["whole"], chunk=False)
        assert col.get(["whole"])[0].metadata == {"parent": "whole"}
        # a record that names its document already (a chunk added again) keeps it
        col.add([SHORT], ids=["g#3"], metadatas=[{"parent": "g"}])
        assert col.get(["g"])[0].metadata == {"parent": "g"}
        assert col.count(unit="document") == 5 and col.count() == len(chunks) + 4


def test_vectors_given_keep_an_exported_parent_and_name_themselves_otherwise(tmp_path):
    with embkit.create(tmp_path / "v", model=None, dim=3) as col:
        col.add(
            ids=["a", "b#0", "b#1"],
            vectors=[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
            metadatas=[{}, {"parent": "b", "chunk": 0}, {"parent": "b", "chunk": 1}],
        )
        assert [(d.id, d.metadata["parent"]) for d in col.get(["a", "b"])] == [("a", "a"), ("b#0", "b"), ("b#1", "b")]
        assert (col.count(), col.count(unit="document")) == (3, 2)
        assert col.remove(["b"])[:2] == (1, 2) and col.remove(["a"])[:2] == (1, 1)  # (documents, chunks)
        assert col.count() == 0


def test_a_bad_record_anywhere_rejects_the_whole_batch(backend):
    with embkit.create(backend("c")) as col:
        col.add([SHORT], ids=["note"])
        before = [(d.id, d.text) for d in col.get(where={})]
        # a long document before the bad one: its chunks must not land either
        with pytest.raises(EmbkitError, match=r"metadatas\[1\]: not JSON-serializable"):
            col.add([TEXT, SHORT], ids=["long", "bad"], metadatas=[{}, {"x": {1, 2}}])
        with pytest.raises(EmbkitError, match="ids: 1 already exist"):
            col.add([TEXT, SHORT], ids=["long", "note"])
        with pytest.raises(EmbkitError, match=r"ids\[1\]: duplicate id 'long'"):
            col.upsert([TEXT, SHORT], ids=["long", "long"])
        assert [(d.id, d.text) for d in col.get(where={})] == before and col.get(["long"]) == []


def test_cli_document_and_chunk_ids(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "long.txt").write_text(TEXT)
    (docs / "short.txt").write_text(SHORT)
    col, long, short = str(tmp_path / "c"), str(docs / "long.txt"), str(docs / "short.txt")
    assert cli("init", col).exit_code == 0
    done = cli("add", col, str(docs), "--json")
    assert done.exit_code == 0, done.output
    added = json.loads(done.stdout)
    n = added["chunks"] - 1
    assert (added["documents"], added["files"]) == (2, 2) and n > 1
    got = json.loads(cli("get", col, short, "--json").stdout)["documents"]
    assert [(d["id"], d["metadata"]) for d in got] == [(short, {"source": short, "parent": short})]
    got = json.loads(cli("get", col, long, "--json").stdout)["documents"]
    assert [d["id"] for d in got] == [f"{long}#{i}" for i in range(n)]
    assert [d["id"] for d in json.loads(cli("get", col, f"{long}#1", "--json").stdout)["documents"]] == [f"{long}#1"]
    info = json.loads(cli("info", col, "--json").stdout)
    assert (info["documents"], info["chunks"]) == (2, n + 1)
    like = json.loads(cli("search", col, "--like", long, "-k", "5", "--json").stdout)
    assert [h["id"] for h in like.get("hits", like.get("results"))] == [short]  # none of its own chunks
    gone = cli("delete", col, f"{long}#0", "--json")
    assert json.loads(gone.stdout) == {"deleted": 1, "documents": 1, "count": n}
    gone = cli("delete", col, long, "--json")
    assert json.loads(gone.stdout) == {"deleted": n - 1, "documents": 1, "count": 1}
    # a short file, upserted long, becomes chunks; its one record goes in the same write
    (docs / "short.txt").write_text(TEXT)
    assert cli("add", col, short, "--upsert").exit_code == 0
    assert [d["id"] for d in json.loads(cli("get", col, short, "--json").stdout)["documents"]] == [
        f"{short}#{i}" for i in range(n)
    ]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One live server for this file's HTTP tests: collections `docs` and `warn`, a write key."""
    root = tmp_path_factory.mktemp("served")
    for name in ("docs", "warn"):
        embkit.create(root / name).close()
    keys_file = root / "keys.json"
    key = create_key(keys_file, "write", "docs", "warn")
    live = LiveServer([str(root / "docs"), str(root / "warn"), "--keys-file", str(keys_file)], root / "server.log")
    try:
        with live.client(key) as client:
            yield client
    finally:
        assert live.stop() == 0


def test_http_document_and_chunk_ids(served):
    r = served.post(
        "/collections/docs/add", json={"documents": [{"id": "long", "text": TEXT}, {"id": "note", "text": SHORT}]}
    )
    assert r.status_code == 201 and r.json() == {"ids": ["long", "note"]}, r.text
    note = served.get("/collections/docs/documents/note").json()
    assert note == {"id": "note", "text": SHORT, "metadata": {"parent": "note"}}
    whole = served.get("/collections/docs/documents/long").json()["chunks"]
    n = len(whole)
    assert n > 1 and [c["id"] for c in whole] == [f"long#{i}" for i in range(n)]
    hits = served.post("/collections/docs/search", json={"like": "long", "k": 5}).json()["hits"]
    assert [h["id"] for h in hits] == ["note"]
    r = served.delete("/collections/docs/documents/long%230")
    assert r.json() == {"deleted": 1, "documents": 1}
    r = served.post("/collections/docs/delete", json={"ids": ["long"]})
    assert r.json() == {"deleted": n - 1, "documents": 1}
    assert served.get("/collections/docs/documents/long").status_code == 404
    r = served.post("/collections/docs/upsert", json={"documents": [{"id": "note", "text": TEXT}]})
    assert r.status_code == 200 and r.json() == {"ids": ["note"]}, r.text
    got = served.post("/collections/docs/get", json={"ids": ["note"]}).json()["documents"]
    assert [d["id"] for d in got] == [f"note#{i}" for i in range(n)]


def test_http_adds_at_once_each_get_their_own_warnings(served):
    """Warnings come back as values from the write path: two adds in the server's threads
    (which a process-wide warnings.catch_warnings would mix up) each see only their own."""
    results: dict[str, list] = {}

    def add(name: str, n: int, barrier: threading.Barrier) -> None:
        docs = [{"id": f"{name}-{i}", "text": TEXT} for i in range(n)]
        barrier.wait()
        r = served.post("/collections/warn/add", json={"documents": docs, "chunk": False})
        results[name] = [r.status_code, r.json()]

    for round_ in range(3):
        barrier = threading.Barrier(2)
        sizes = {f"a{round_}": 3, f"b{round_}": 2}
        threads = [threading.Thread(target=add, args=(name, n, barrier)) for name, n in sizes.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for name, n in sizes.items():
            status, body = results[name]
            assert status == 201 and body["ids"] == [f"{name}-{i}" for i in range(n)], body
            assert len(body["warnings"]) == 1, body
            assert f"{n} text(s) longer" in body["warnings"][0] and f"(first: '{name}-0')" in body["warnings"][0]


def test_http_stores_a_long_text_whole_as_python_does(tmp_path):
    """chunk=false on a server that allows long texts: one over the 1,000,000 characters
    a query may have, but under the document size limit, is stored whole through HTTP as
    through Python (HTTP once checked the prepared texts again, as queries, and refused it)."""
    text = "Tea leaves steep slowly. " * 44_000  # 1.1 million characters, 1.1 MB
    embkit.create(tmp_path / "long").close()
    live = LiveServer(
        [str(tmp_path / "long"), "--no-auth", "--max-text-chars", "2000000", "--max-body-bytes", "4000000"],
        tmp_path / "server.log",
    )
    try:
        with live.client() as client:
            r = client.post("/collections/long/add", json={"documents": [{"id": "huge", "text": text}], "chunk": False})
    finally:
        assert live.stop() == 0
    assert r.status_code == 201 and r.json()["ids"] == ["huge"], r.text[:300]
    with embkit.create(tmp_path / "py") as col, pytest.warns(EmbkitWarning, match="stored whole"):
        assert col.add([text], ids=["huge"], chunk=False) == ["huge"]
