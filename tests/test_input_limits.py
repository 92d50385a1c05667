"""Hostile input through the Python and CLI doors (issue 19, items 2, 3 and 8): lone
surrogates, metadata nested past the limit and an oversized document are each one clear
EmbkitError naming the field (exit 1 with one line on stderr in the CLI), checked before
anything is embedded, and nothing is written. The HTTP door is in tests/server."""

import json

import pytest

import embkit
from embkit import validate

from live_server import embkit_cli

SURROGATE = "\ud800"


def deep(levels: int) -> dict:
    """Metadata nested `levels` objects deep (the outer one counts)."""
    root = node = {}
    for _ in range(levels - 1):
        node["a"] = {}
        node = node["a"]
    return root


@pytest.fixture
def col(backend, minilm):
    c = embkit.create(backend("c"))
    c.add(["Bread rises in a warm kitchen.", "Rockets launch from the coast."], ids=["bread", "rocket"],
          metadatas=[{"topic": "food"}, {"topic": "space"}])
    yield c
    c.close()


CALLS = {
    "add text": (lambda c: c.add([f"ok{SURROGATE}no"]), "texts[0]: not valid Unicode (lone surrogate at position 2)"),
    "add id": (lambda c: c.add(["fine text"], ids=[SURROGATE]),
               "ids[0]: not valid Unicode (lone surrogate at position 0)"),
    "add key": (lambda c: c.add(["fine text"], metadatas=[{SURROGATE: 1}]),
                "metadatas[0] (a key): not valid Unicode (lone surrogate at position 0)"),
    "add value": (lambda c: c.add(["fine text"], metadatas=[{"k": ["x", "y" + SURROGATE]}]),
                  "metadatas[0].k[1]: not valid Unicode (lone surrogate at position 1)"),
    "upsert": (lambda c: c.upsert([SURROGATE], ids=["bread"]),
               "texts[0]: not valid Unicode (lone surrogate at position 0)"),
    "search": (lambda c: c.search(f"bread{SURROGATE}"), "query: not valid Unicode (lone surrogate at position 5)"),
    "keyword": (lambda c: c.search(SURROGATE, mode="keyword"),
                "query: not valid Unicode (lone surrogate at position 0)"),
    "like": (lambda c: c.search(like=SURROGATE), "like: not valid Unicode (lone surrogate at position 0)"),
    "where": (lambda c: c.search("bread", where={"topic": SURROGATE}),
              "where.topic: not valid Unicode (lone surrogate at position 0)"),
    "get": (lambda c: c.get(["bread", SURROGATE]), "ids[1]: not valid Unicode (lone surrogate at position 0)"),
    "count": (lambda c: c.count({"topic": {"$in": ["food", SURROGATE]}}),
              "where.topic.$in[1]: not valid Unicode (lone surrogate at position 0)"),
    "table": (lambda c: c.table({SURROGATE: "food"}),
              "where (a key): not valid Unicode (lone surrogate at position 0)"),
    "delete": (lambda c: c.delete([SURROGATE]), "ids[0]: not valid Unicode (lone surrogate at position 0)"),
    "delete where": (lambda c: c.delete(where={"topic": SURROGATE}),
                     "where.topic: not valid Unicode (lone surrogate at position 0)"),
    "embed": (lambda c: c.embed(["fine", SURROGATE]), "texts[1]: not valid Unicode (lone surrogate at position 0)"),
    "similarity": (lambda c: c.similarity(["a"], [SURROGATE]),
                   "b[0]: not valid Unicode (lone surrogate at position 0)"),
    "context": (lambda c: c.context(SURROGATE), "question: not valid Unicode (lone surrogate at position 0)"),
}


@pytest.mark.parametrize("call", CALLS, ids=list(CALLS))
def test_lone_surrogates_are_one_clear_error_and_change_nothing(col, call):
    run, message = CALLS[call]
    with pytest.raises(embkit.EmbkitError) as e:
        run(col)
    assert str(e.value) == message
    assert col.count() == 2 and [d.text for d in col.get(["bread"])] == ["Bread rises in a warm kitchen."]


def test_metadata_depth_and_size_limits(col):
    col.add(["at the limit"], ids=["ok"], metadatas=[deep(validate.MAX_METADATA_DEPTH)])
    assert col.get(["ok"])[0].metadata == {**deep(validate.MAX_METADATA_DEPTH), "parent": "ok"}
    for levels in (validate.MAX_METADATA_DEPTH + 1, 1000, 5000):  # 1000 deep was a RecursionError
        with pytest.raises(embkit.EmbkitError) as e:
            col.add(["too deep"], ids=["deep"], metadatas=[deep(levels)])
        assert str(e.value) == "metadatas[0]: nested more than 32 levels deep (limit max_metadata_depth)"
    with pytest.raises(embkit.EmbkitError) as e:
        col.add(["too big"], ids=["big"], metadatas=[{"blob": "x" * validate.MAX_METADATA_BYTES}])
    assert str(e.value) == ("metadatas[0]: 65548 bytes of JSON exceeds the limit of 65536 "
                            "(limit max_metadata_bytes)")
    with pytest.raises(embkit.EmbkitError, match=r"^patches\['bread'\]: nested more than 32"):
        col.merge_metadata({"bread": {"x": deep(40)}})
    assert col.count() == 3 and col.get(["deep", "big"]) == []


def test_a_nul_in_metadata_is_refused_on_every_backend(col):
    """SQLite's JSON functions end a string at U+0000, so a stored "x\\0y" was matched by
    {"s": "x"}; PostgreSQL refused it. Now every backend refuses it, naming the field."""
    for metadata, message in [({"s": "x\x00y"}, "metadatas[0].s: contains a NUL character (U+0000)"),
                              ({"a\x00b": 1}, "metadatas[0]: a key contains a NUL character (U+0000)")]:
        with pytest.raises(embkit.EmbkitError) as e:
            col.add(["fine text"], ids=["nul"], metadatas=[metadata])
        assert str(e.value).startswith(message)
    assert col.count() == 2 and col.get(where={"s": "x"}) == []


def test_document_size_limit_in_python(col):
    text = "word " * 400  # 2000 bytes
    with pytest.raises(embkit.EmbkitError) as e:
        col.add(["short", text], max_document_bytes=1000)
    assert str(e.value) == "texts[1]: document of 2000 bytes exceeds the limit of 1000 bytes (max_document_bytes)"
    huge = "é" * (validate.MAX_DOCUMENT_BYTES // 2 + 1)  # under the limit in characters, over it in bytes
    with pytest.raises(embkit.EmbkitError, match=r"^texts\[0\]: document of 5242882 bytes exceeds the limit of "
                                                 r"5242880 bytes \(max_document_bytes\)$"):
        col.upsert([huge], ids=["bread"])
    with pytest.raises(embkit.EmbkitError, match=r"^max_document_bytes: must be a positive integer, got 0$"):
        col.add(["short"], max_document_bytes=0)
    assert col.add(["short", text], ids=["s", "t"], max_document_bytes=2000) == ["s", "t"]
    assert col.count(unit="document") == 4 and col.get(["bread"])[0].text == "Bread rises in a warm kitchen."


@pytest.fixture
def cli_collection(tmp_path, minilm):
    path = tmp_path / "c"
    embkit.create(path).close()
    return path


def _cli_error(*args) -> str:
    done = embkit_cli(*args, env={"HF_HUB_OFFLINE": "1"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr.strip()


def test_cli_refuses_an_oversized_document_before_chunking(cli_collection, tmp_path):
    """A 10 MB line was split into 9,009 chunks and embedded for minutes: now refused at once."""
    line = tmp_path / "big.jsonl"
    line.write_text(json.dumps({"id": "big", "text": "word " * (2 * 1024 * 1024)}) + "\n")
    assert _cli_error("add", str(cli_collection), str(line)) == (
        f"error: {line}:1: document of 10485760 bytes exceeds the limit of 5242880 bytes (max_document_bytes)")
    small = tmp_path / "small.jsonl"
    small.write_text(json.dumps({"id": "a", "text": "tiny"}) + "\n"
                     + json.dumps({"id": "b", "text": "word " * 400}) + "\n")
    # the same words as Python's error, after the place named
    assert _cli_error("add", str(cli_collection), str(small), "--max-document-bytes", "1000") == (
        f"error: {small}:2: document of 2000 bytes exceeds the limit of 1000 bytes (max_document_bytes)")
    assert _cli_error("add", str(cli_collection), str(small), "--max-document-bytes", "-5") == (
        "error: max_document_bytes: must be a positive integer, got -5")
    with embkit.open(cli_collection) as col:
        assert col.count() == 0


def test_cli_refuses_surrogates_and_deep_metadata(cli_collection, tmp_path):
    records = tmp_path / "docs.jsonl"
    records.write_text('{"id": "a", "text": "fine"}\n{"id": "b", "text": "x\\ud800y"}\n')  # a JSON escape
    assert _cli_error("add", str(cli_collection), str(records)) == (
        f"error: {records}:2: not valid Unicode (lone surrogate at position 1)")
    nested = '{"a": ' * 999 + "{}" + "}" * 999  # 1,000 deep: more than json.dumps can write
    records.write_text(f'{{"id": "a", "text": "fine", "meta": {nested}}}\n')
    assert _cli_error("add", str(cli_collection), str(records)) == (
        f"error: {records}:1: metadata: nested more than 32 levels deep (limit max_metadata_depth)")
    # bytes that are not UTF-8 on the command line arrive as lone surrogates
    assert _cli_error("search", str(cli_collection), "caf\udce9") == (
        "error: query: not valid Unicode (lone surrogate at position 3)")
    assert _cli_error("get", str(cli_collection), "\udcff") == (
        "error: ids[0]: not valid Unicode (lone surrogate at position 0)")
    deep_where = '{"a": ' * 3000 + "1" + "}" * 3000  # was a RecursionError traceback
    assert _cli_error("search", str(cli_collection), "bread", "--where", deep_where) == (
        "error: where: nested more than 32 levels deep")
    with embkit.open(cli_collection) as col:
        assert col.count() == 0


def test_cli_holds_file_metadata_to_the_python_doors_checks(cli_collection, tmp_path):
    """A file's metadata was checked for depth and Unicode only: 1e400 (read as infinity)
    was a traceback from the store after embedding, and 70 KB of metadata was stored."""
    records = tmp_path / "docs.jsonl"
    records.write_text('{"id": "a", "text": "fine"}\n{"id": "b", "text": "fine", "score": 1e400}\n')
    assert _cli_error("add", str(cli_collection), str(records)) == (
        f"error: {records}:2: metadata: not JSON-serializable (Out of range float values are not JSON compliant)")
    records.write_text(json.dumps({"id": "c", "text": "fine", "blob": "x" * 70_000}) + "\n")
    assert _cli_error("add", str(cli_collection), str(records)) == (
        f"error: {records}:1: metadata: 70012 bytes of JSON exceeds the limit of 65536 (limit max_metadata_bytes)")
    with embkit.open(cli_collection) as col:
        assert col.count() == 0


def test_distributed_ingest_refuses_an_oversized_document_before_chunking(tmp_path):
    from embkit.ingest.shards import ShardSettings, ShardTask, shard_records

    shard = tmp_path / "part-0.jsonl"
    shard.write_text(json.dumps({"text": "fine"}) + "\n" + json.dumps({"text": "word " * (2 * 1024 * 1024)}) + "\n")
    with pytest.raises(embkit.EmbkitError) as e:
        shard_records(ShardTask(str(shard), str(shard), "part-0.parquet", {}), ShardSettings())
    assert str(e.value) == (f"{shard}:2: document of 10485760 bytes exceeds the limit of 5242880 bytes "
                            "(max_document_bytes)")


def test_a_refused_metadata_key_with_a_line_break_is_named_on_one_line(tmp_path):
    """CI (hypothesis) found metadata {"\\n": {"": "\\x00"}} refused with the raw line break
    inside the field's name, a message over two lines."""
    col = embkit.create(tmp_path / "c", model=None, dim=2)
    with pytest.raises(embkit.EmbkitError) as e:
        col.add(ids=["a"], vectors=[[1.0, 0.0]], metadatas=[{"\n": {"": "\x00"}}])
    assert str(e.value) == "metadatas[0].\\n.: contains a NUL character (U+0000), which metadata cannot hold"
    assert col.count() == 0
