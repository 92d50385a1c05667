"""A read-only collection (issue 19, failure 4): on a read-only mount every read works,
through the real CLI and through Python, with its caches caught up in memory only (and
a warning that they were not saved); every write refuses in one line and writes nothing.
Mounts are made in a private namespace (tests/namespace.py); where that cannot be done
the tests skip, saying what is missing."""

import json
import shlex
import subprocess
import sys

import numpy as np
import pytest

import embkit
from embkit.store import DB_NAME, SCHEMA_VERSION

import namespace
from live_server import LiveServer

DOCS = namespace.SIX_DOCS

# Read a folder through a read-only bind mount of itself.
MOUNT_RO = "mount --bind {d} {d} && mount -o remount,bind,ro {d}"

# Python through the read-only mount: reads answer, writes refuse, close() does not raise.
PY_READER = """
import json, sys, warnings
import numpy as np
import embkit
from embkit.errors import EmbkitError

warnings.simplefilter("always")
out = {}
with warnings.catch_warnings(record=True) as caught:
    col = embkit.open(sys.argv[1])
    out["like"] = [h.id for h in col.search(like="cat", k=2)]
    out["keyword"] = [h.id for h in col.search("markets", mode="keyword")]
    out["get"] = [d.text for d in col.get(["bread"])]
    out["count"] = col.count()
    out["map"] = col.map(sys.argv[2], method="pca", color_by=None)["points"]  # its projection cache is not saved
    for name, write in (("add", lambda: col.add(["x"], ids=["x"], vectors=np.ones((1, 384)))),
                        ("delete", lambda: col.delete(ids=["cat"]))):
        try:
            write()
            out[name] = "written"
        except EmbkitError as e:
            out[name] = str(e)
    col.close()
    out["closed"] = True
out["warnings"] = [str(w.message) for w in caught]
print(json.dumps(out))
"""

# Writes that stay in the WAL: the process ends without closing, so nothing is checkpointed.
WAL_WRITER = """
import os, sys
import numpy as np
import embkit

col = embkit.create(sys.argv[1], model=None, dim=4)
col.add(ids=["a", "b", "c"], vectors=np.eye(4)[:3])
os._exit(0)
"""


@pytest.fixture(scope="module", autouse=True)
def namespaces():
    reason = namespace.unavailable()
    if reason:
        pytest.skip(f"no mount namespace: no read-only mount can be made ({reason})")


@pytest.fixture(scope="module")
def archived(tmp_path_factory, minilm):
    """A closed collection (no WAL left) whose saved HNSW index is one write behind the
    store: a reader must catch it up in memory (the keyword index is in the store itself)."""
    folder = tmp_path_factory.mktemp("ro") / "col"
    ids = list(DOCS)
    vectors = minilm.encode([DOCS[i] for i in ids])
    col = embkit.create(folder)
    col.add([DOCS[i] for i in ids[:-1]], ids=ids[:-1], vectors=vectors[:-1])
    col.build_index("hnsw")
    col.add([DOCS[ids[-1]]], ids=ids[-1:], vectors=vectors[-1:])
    col.close()
    assert sorted(p.name for p in folder.iterdir()) == [DB_NAME, "index"]
    return folder


def test_cli_reads_a_read_only_collection_and_refuses_writes(archived, tmp_path, minilm):
    before = namespace.files(archived)
    new_doc = tmp_path / "new.txt"
    new_doc.write_text("A brand new document about sailing boats.")
    d, out = shlex.quote(str(archived)), tmp_path
    script = "\n".join([
        MOUNT_RO.format(d=d),
        namespace.step("dense", f'$EMBKIT search {d} "a kitten napping on a rug" -k 3 --json', out),
        namespace.step("keyword", f"$EMBKIT search {d} markets --mode keyword --json", out),
        namespace.step("hybrid", f'$EMBKIT search {d} "stock market crash" --mode hybrid -k 2 --json', out),
        namespace.step("get", f"$EMBKIT get {d} bread", out),
        namespace.step("info", f"$EMBKIT info {d} --json", out),
        namespace.step("add", f"$EMBKIT add {d} {shlex.quote(str(new_doc))}", out),
    ])
    done = namespace.run(script)
    assert done.returncode == 0, done.stderr

    rc, stdout, stderr = namespace.result("dense", out)
    assert rc == 0, stderr
    ids = list(DOCS)  # the reference: numpy cosine over every document
    cosines = minilm.encode([DOCS[i] for i in ids]) @ minilm.encode(["a kitten napping on a rug"])[0]
    assert [h["id"] for h in json.loads(stdout)["hits"]] == [ids[i] for i in np.argsort(-cosines)[:3]]
    assert [h["id"] for h in json.loads(stdout)["hits"]][0] == "cat"
    # The HNSW index caught up with the last add in memory; saving it fails: one warning line.
    assert f"warning: vector index of space 'text' of {archived} not saved ([Errno 30] Read-only file system" \
        in stderr

    rc, stdout, stderr = namespace.result("keyword", out)
    assert rc == 0, stderr
    assert [h["id"] for h in json.loads(stdout)["hits"]] == ["stocks"]
    assert "warning" not in stderr  # the keyword index is the store's: nothing to catch up or save

    rc, stdout, stderr = namespace.result("hybrid", out)
    assert rc == 0, stderr
    assert [h["id"] for h in json.loads(stdout)["hits"]][0] == "stocks"

    rc, stdout, stderr = namespace.result("get", out)
    bread = {"id": "bread", "text": DOCS["bread"], "metadata": {"parent": "bread"}}
    assert (rc, json.loads(stdout)) == (0, bread), stderr

    rc, stdout, stderr = namespace.result("info", out)
    assert (rc, json.loads(stdout)["count"], json.loads(stdout)["read_only"]) == (0, len(DOCS), True), stderr

    refusal = (f"error: path: collection at {archived} is read-only (a read-only mount, or no permission to "
               "write); it can be searched but not changed")
    rc, stdout, stderr = namespace.result("add", out)
    assert (rc, stderr) == (1, refusal + "\n")  # refused before embedding: no progress bar drawn
    for name in ("dense", "keyword", "hybrid", "get", "info", "add"):
        assert "Traceback" not in namespace.result(name, out)[2]
    assert namespace.files(archived) == before  # nothing written, not even a cache


def test_python_reads_a_read_only_collection(archived, tmp_path):
    reader = tmp_path / "reader.py"
    reader.write_text(PY_READER)
    d = shlex.quote(str(archived))
    done = namespace.run(f"{MOUNT_RO.format(d=d)}\n$PYTHON {shlex.quote(str(reader))} {d} {tmp_path}/map.html")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    refusal = (f"path: collection at {archived} is read-only (a read-only mount, or no permission to write); "
               "it can be searched but not changed")
    assert "cat" not in out["like"] and len(out["like"]) == 2  # `like` leaves the document itself out
    assert out["keyword"] == ["stocks"]
    assert out["get"] == [DOCS["bread"]]
    assert out["count"] == len(DOCS)
    assert out["map"] == len(DOCS) and (tmp_path / "map.html").stat().st_size > 0
    assert (out["add"], out["delete"]) == (refusal, refusal)
    assert out["closed"] is True
    assert not any(w.startswith("keyword index") for w in out["warnings"])
    assert any(w.startswith(f"projection cache {archived}/analysis/projections/pca-") and
               "not saved ([Errno 30] Read-only file system" in w for w in out["warnings"])


def test_server_serves_a_read_only_collection(archived, tmp_path):
    """Reads answer over HTTP; a write is a 4xx naming the cause; shutting down (which
    saves caches) still exits 0."""
    before = namespace.files(archived)
    log = tmp_path / "server.log"
    mount = namespace.wrap(MOUNT_RO.format(d=shlex.quote(str(archived))))
    server = LiveServer([str(archived), "--no-auth"], log, prefix=mount)
    try:
        with server.client() as client:
            r = client.post("/collections/col/search", json={"query": "a kitten napping on a rug", "k": 2})
            assert r.status_code == 200 and [h["id"] for h in r.json()["hits"]][0] == "cat"
            r = client.post("/collections/col/search", json={"query": "markets", "mode": "keyword"})
            assert [h["id"] for h in r.json()["hits"]] == ["stocks"]
            assert client.get("/collections/col/documents/bread").json()["text"] == DOCS["bread"]
            refusal = (f"path: collection at {archived} is read-only (a read-only mount, or no permission to write); "
                       "it can be searched but not changed")
            for r in (client.post("/collections/col/add", json={"documents": [{"id": "x", "text": "sailing boats"}]}),
                      client.delete("/collections/col/documents/cat")):
                assert (r.status_code, r.json()["error"]["message"]) == (422, refusal)
    finally:
        code = server.stop()
    assert code == 0, log.read_text()
    assert "Traceback" not in log.read_text()
    assert namespace.files(archived) == before


def test_wal_is_read_when_its_shm_is_there_and_refused_when_not(tmp_path):
    """A collection whose last writer died: its commits are only in the WAL. Through a
    read-only mount, `mode=ro` reads them with the -shm beside it; without the -shm the
    WAL cannot be read, and answering from the older database alone would be wrong."""
    folder = tmp_path / "col"
    writer = tmp_path / "writer.py"
    writer.write_text(WAL_WRITER)
    subprocess.run([sys.executable, str(writer), str(folder)], check=True, timeout=120)
    assert {p.name for p in folder.iterdir()} >= {DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm"}
    d, out = shlex.quote(str(folder)), tmp_path
    with_shm = namespace.run("\n".join([MOUNT_RO.format(d=d), namespace.step("with", f"$EMBKIT info {d} --json", out)]))
    assert with_shm.returncode == 0, with_shm.stderr
    rc, stdout, stderr = namespace.result("with", out)
    assert (rc, json.loads(stdout)["count"]) == (0, 3), stderr

    (folder / f"{DB_NAME}-shm").unlink()
    without = namespace.run("\n".join([MOUNT_RO.format(d=d), namespace.step("without", f"$EMBKIT info {d}", out)]))
    assert without.returncode == 0, without.stderr
    rc, stdout, stderr = namespace.result("without", out)
    assert rc == 1
    assert stderr == (f"error: path: collection at {folder} is read-only and {DB_NAME}-wal holds writes that were "
                      f"never checkpointed (no {DB_NAME}-shm to read them with); open it once where it is writable, "
                      "or copy the folder somewhere writable\n")
    # Where it is writable, the same folder opens and has every committed write.
    with embkit.open(folder) as col:
        assert col.count() == 3
        assert np.array_equal(col.get(["c"], include_vectors=True)[0].vector, np.eye(4)[2])


def test_an_older_schema_on_a_read_only_mount_is_refused_not_migrated(tmp_path):
    from test_migration import make_v1  # a genuine version-1 database

    folder = tmp_path / "v1"
    make_v1(folder)
    before = namespace.files(folder)
    d, out = shlex.quote(str(folder)), tmp_path
    done = namespace.run("\n".join([MOUNT_RO.format(d=d), namespace.step("info", f"$EMBKIT info {d}", out)]))
    assert done.returncode == 0, done.stderr
    assert namespace.result("info", out)[0::2] == (
        1, f"error: schema_version: collection at {folder} has schema version 1 and is read-only, so it cannot be "
           f"migrated to {SCHEMA_VERSION}; open it once where it is writable\n")
    assert namespace.files(folder) == before
