"""Documents as the unit people see (issue 20, item 1): a long text added through Python,
HTTP or `embkit add` becomes the same chunks; get, delete, upsert and like= take a
document id; chunk ids keep working."""

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

import embkit
from embkit.encoders.tokenizer_files import encoder_tokenizer
from embkit.errors import EmbkitError, EmbkitWarning

from live_server import LiveServer, create_key, embkit_cli


def long_text() -> str:
    """About 3,000 MiniLM tokens of varied sentences in paragraphs."""
    topics = ["rivers", "compilers", "bread", "glaciers", "violins", "tax law", "orbits"]
    paragraphs = []
    for p in range(36):
        sentences = [f"Paragraph {p} sentence {s} explains how {topics[(p + s) % 7]} change when "
                     f"{topics[(p * s + 1) % 7]} are measured over {p * 10 + s} years." for s in range(5)]
        paragraphs.append(" ".join(sentences))
    return "\n\n".join(paragraphs)


TEXT = long_text()


def records(col, doc_id: str) -> list:
    """Every record of document `doc_id`, in chunk order, with vectors."""
    return col.get([doc_id], include_vectors=True)


def assert_same_records(got: list, want: list) -> None:
    assert [d.id for d in got] == [d.id for d in want]
    assert [d.text for d in got] == [d.text for d in want]
    assert [d.metadata for d in got] == [d.metadata for d in want]
    np.testing.assert_allclose(np.stack([d.vector for d in got]), np.stack([d.vector for d in want]), atol=1e-6)


def test_text_is_about_3000_tokens():
    assert 3000 <= len(encoder_tokenizer("minilm").encode(TEXT).ids) < 4000


def test_python_add_chunks_as_embkit_add_does_for_txt_and_jsonl(backend, tmp_path):
    txt = tmp_path / "long.txt"
    txt.write_text(TEXT)
    jsonl = tmp_path / "long.jsonl"
    jsonl.write_text(json.dumps({"id": "doc-1", "text": TEXT, "topic": "mixed"}) + "\n")
    cli_path, py_path = backend("cli"), backend("py")
    for args in (["init", cli_path], ["add", cli_path, txt, jsonl]):
        done = embkit_cli(*map(str, args))
        assert done.returncode == 0, done.stderr
    with embkit.open(cli_path) as cli, embkit.create(py_path) as py:
        ids = py.add([TEXT, TEXT], ids=[str(txt), "doc-1"],
                     metadatas=[{"source": str(txt)}, {"topic": "mixed", "source": str(jsonl)}])
        assert ids == [str(txt), "doc-1"]  # document ids, not chunk ids
        for doc_id in ids:
            want = records(cli, doc_id)
            assert len(want) >= 12 and [d.id for d in want] == [f"{doc_id}#{i}" for i in range(len(want))]
            assert_same_records(records(py, doc_id), want)
            assert all(d.metadata["parent"] == doc_id and TEXT[d.metadata["start"]:d.metadata["end"]] == d.text
                       for d in want)
        assert py.count() == cli.count()


def test_http_add_chunks_as_python_does(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    embkit.create(root / "docs").close()
    keys_file = tmp_path / "keys.json"
    key = create_key(keys_file, "write", "docs")
    live = LiveServer([str(root / "docs"), "--keys-file", str(keys_file)], tmp_path / "server.log")
    try:
        with live.client(key) as client:
            r = client.post("/collections/docs/add", json={"documents": [{"id": "long", "text": TEXT,
                                                                          "metadata": {"lang": "en"}}]})
            assert r.status_code == 201, r.text
            assert r.json() == {"ids": ["long"]}
            whole = client.get("/collections/docs/documents/long").json()
            assert whole["id"] == "long" and [c["metadata"]["chunk"] for c in whole["chunks"]] == \
                list(range(len(whole["chunks"])))
            assert client.get("/collections/docs/documents/long%231").json()["id"] == "long#1"
            got = client.post("/collections/docs/get", json={"ids": ["long"]}).json()["documents"]
            assert [d["id"] for d in got] == [c["id"] for c in whole["chunks"]]
            r = client.post("/collections/docs/add", json={"documents": [{"id": "whole", "text": TEXT}],
                                                           "chunk": False})
            assert r.status_code == 201, r.text
            assert r.json()["ids"] == ["whole"] and "256 tokens" in r.json()["warnings"][0]
            r = client.post("/collections/docs/delete", json={"ids": ["whole"]})
            assert r.json() == {"deleted": 1, "documents": 1}
    finally:
        assert live.stop() == 0
    with embkit.open(root / "docs") as served, embkit.create(tmp_path / "py") as py:
        py.add([TEXT], ids=["long"], metadatas=[{"lang": "en"}])
        assert_same_records(records(served, "long"), records(py, "long"))
        assert served.count() == py.count()


def test_document_id_in_get_delete_upsert_and_like(backend):
    short = "A short note about violins and their strings."
    with embkit.create(backend("c")) as col:
        col.add([TEXT, short, "Glaciers move slowly down valleys of ice."], ids=["long", "note", "ice"])
        chunks = [d.id for d in col.get(["long"])]
        n = len(chunks)
        assert chunks == [f"long#{i}" for i in range(n)] and n >= 12
        # in the order asked, each record once
        assert [d.id for d in col.get(["note", "long#2", "long"])] == ["note", "long#2",
                                                                       *(c for c in chunks if c != "long#2")]
        assert col.count() == n + 2
        # like= a document: the normalized mean of its chunks, none of them among the hits
        hits = col.search(like="long", k=n + 2)
        assert {h.id for h in hits} == {"note", "ice"}
        vectors = np.stack([d.vector for d in col.get(["long"], include_vectors=True)])
        mean = vectors.mean(axis=0)
        mean /= np.linalg.norm(mean)
        assert [h.id for h in col.search(vector=mean, k=n + 2)][n:] == [h.id for h in hits]
        # a chunk id keeps working
        assert "long#0" not in {h.id for h in col.search(like="long#0", k=5)}
        # add of a document stored as chunks is refused, upsert replaces all its chunks
        with pytest.raises(EmbkitError, match="'long' exists already"):
            col.add([short], ids=["long"])
        generation = col.info()["generation"]
        assert col.upsert([TEXT[:3000]], ids=["long"]) == ["long"]
        assert col.info()["generation"] == generation + 1  # new chunks in, stale ones out: one transaction
        kept = col.get(["long"])
        assert 1 < len(kept) < n and [d.id for d in kept] == [f"long#{i}" for i in range(len(kept))]
        assert col.count() == len(kept) + 2
        assert col.upsert(["Now a short text."], ids=["long"]) == ["long"]
        assert [(d.id, d.text) for d in col.get(["long"])] == [("long", "Now a short text.")]
        assert col.upsert([TEXT], ids=["long"]) == ["long"]
        assert [d.id for d in col.get(["long"])] == chunks  # the short record "long" replaced by chunks
        # delete a document: all its chunks, reported as one document
        assert col.remove(["long"])[:2] == (1, n)  # (documents, chunks, warnings)
        assert col.count() == 2 and col.get(["long"]) == []
        col.add([TEXT], ids=["again"])
        assert col.delete(["again#0"]) == 1 and col.count() == 2 + n - 1


def test_a_parent_a_client_wrote_owns_nothing(backend):
    """Records whose metadata names a `parent` of another id (a client's own grouping)
    are neither swept by an upsert of one of them nor refused because a record of that
    name exists; chunks `ID#i` of document ID still are (bug: the upsert of c2 deleted c1)."""
    vectors = np.eye(4, dtype=np.float32)
    with embkit.create(backend("owners"), model=None, dim=4) as col:
        col.add(["one", "two", "post"], ids=["c1", "c2", "post1"], vectors=vectors[:3],
                metadatas=[{"parent": "p9"}, {"parent": "p9"}, {}])
        col.upsert(["two, again"], ids=["c2"], vectors=vectors[3:], metadatas=[{"parent": "p9"}])
        assert [d.id for d in col.get(["c1", "c2", "post1"])] == ["c1", "c2", "post1"]
        col.add(["reply"], ids=["r1"], vectors=vectors[:1], metadatas=[{"parent": "post1"}])
        assert col.count() == 4
        col.add(["a0", "a1", "a2"], ids=["a#0", "a#1", "a#2"], vectors=vectors[:3],
                metadatas=[{"parent": "a", "chunk": i} for i in range(3)])
        col.upsert(["a0", "a1"], ids=["a#0", "a#1"], vectors=vectors[:2],
                   metadatas=[{"parent": "a", "chunk": i} for i in range(2)])
        assert [d.id for d in col.get(["a"])] == ["a#0", "a#1"]  # the shorter version's stale chunk went
        with pytest.raises(EmbkitError, match="already exist"):
            col.add(["a0"], ids=["a#0"], vectors=vectors[:1], metadatas=[{"parent": "a"}])


def test_chunk_false_stores_one_truncated_record_with_a_warning(backend):
    with embkit.create(backend("c")) as col:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert col.add([TEXT, "short"], ids=["whole", "s"], chunk=False) == ["whole", "s"]
        lines = [str(w.message) for w in caught if issubclass(w.category, EmbkitWarning)]
        assert len(lines) == 1 and "1 text(s) longer than model 'minilm' reads (256 tokens)" in lines[0]
        assert "'whole'" in lines[0]
        assert [d.id for d in col.get(["whole", "s"])] == ["whole", "s"] and col.count() == 2


def in_folder(folder, *args: str) -> subprocess.CompletedProcess:
    """`embkit ARGS` run in `folder`, as a user adds `docs` from where it lies."""
    return subprocess.run([sys.executable, "-m", "embkit.cli", *args], capture_output=True, text=True, cwd=folder,
                          timeout=120)


def test_cli_get_and_delete_a_file_by_its_document_id(tmp_path):
    folder = tmp_path / "docs" / "guide"
    folder.mkdir(parents=True)
    (folder / "setup.txt").write_text(TEXT)
    (folder / "intro.txt").write_text("A short introduction.")
    assert in_folder(tmp_path, "init", "c").returncode == 0
    done = in_folder(tmp_path, "add", "c", "docs")
    assert done.returncode == 0, done.stderr
    with embkit.open(tmp_path / "c") as c:
        n = c.count() - 1
    got = in_folder(tmp_path, "get", "c", "docs/guide/setup.txt", "--json")
    assert got.returncode == 0, got.stderr
    assert [d["id"] for d in json.loads(got.stdout)["documents"]] == \
        [f"docs/guide/setup.txt#{i}" for i in range(n)]
    gone = in_folder(tmp_path, "delete", "c", "docs/guide/setup.txt")  # before: deleted 0, exit 0
    assert gone.returncode == 0, gone.stderr
    assert gone.stdout.strip() == f"deleted 1 document(s) ({n} chunks); collection holds 1"
    missing = in_folder(tmp_path, "get", "c", "docs/guide/setup.txt")
    assert missing.returncode == 1 and "no document with id 'docs/guide/setup.txt'" in missing.stderr


def test_counts_of_documents_and_chunks(backend):
    with embkit.create(backend("c")) as col:
        assert (col.count(), col.count(unit="document")) == (0, 0)
        col.add([TEXT, TEXT, "short one", "short two"], ids=["a", "b", "s1", "s2"],
                metadatas=[{"k": 1}, {"k": 2}, {"k": 1}, {"k": 2}])
        n = len(col.get(["a"]))
        assert col.count() == 2 * n + 2  # records, as before: every chunk counts
        assert col.count(unit="document") == 4
        assert col.count(where={"k": 1}, unit="document") == 2 and col.count(where={"k": 1}) == n + 1
        info = col.info()
        assert (info["count"], info["documents"], info["chunks"]) == (2 * n + 2, 4, 2 * n + 2)
        with pytest.raises(EmbkitError, match="unit: must be one of document, chunk, got 'page'"):
            col.count(unit="page")
