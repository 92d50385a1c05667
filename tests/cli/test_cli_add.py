"""`embkit add` with folders, pdf/html/parquet and chunking, end to end with the real
model: exit 3 when files were skipped, chunks with parent/page/start/end metadata."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import embkit
from embkit.cli import app
from embkit.ingest import read_source

from corpora import DATA
from pdf_maker import write_pdf

PAGES = [f"Page {n} begins. " + " ".join(f"Note {i}: the survey of page {n} covers {topic} in detail."
                                         for i in range(45))
         for n, topic in ((1, "glacier retreat"), (2, "volcanic ash"), (3, "tidal pools"))]


def run(*args, ok: bool = True):
    """Run `embkit ARGS` as a real process (exit codes come from the entry point)."""
    proc = subprocess.run([sys.executable, "-m", "embkit.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def invoke(*args, code: int = 0):
    """Run a command in this process, where the model stays loaded between calls."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == code, (result.output, result.stderr, result.exception)
    return result


def abstracts(n: int) -> str:
    path = DATA / "scifact" / "corpus.jsonl"
    with open(path, encoding="utf-8") as f:
        docs = [json.loads(next(f)) for _ in range(n)]
    return "\n\n".join(f"## {d['title']}\n\n{d['text']}" for d in docs)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """A collection built from a folder: a note, a long md, a 3-page pdf, a corrupt pdf."""
    root = tmp_path_factory.mktemp("add")
    docs = root / "docs"
    (docs / "reports").mkdir(parents=True)
    (docs / "note.txt").write_text("A short note about tea.")
    (docs / "guide.md").write_text(abstracts(3))
    pdf = write_pdf(docs / "reports" / "survey.pdf", PAGES)
    (docs / "reports" / "broken.pdf").write_bytes(pdf.read_bytes()[:1500])
    run("init", root / "c")
    proc = run("add", root / "c", docs, ok=False)
    return root / "c", docs, proc


def test_folder_lands_and_skipped_file_gives_exit_3(library):
    col, docs, proc = library
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.splitlines()[-1] == "warning: skipped 1 file: 1 unreadable file; --verbose lists them"
    assert "from 3 file(s)" in proc.stdout and "broken.pdf" not in proc.stderr  # listed only with --verbose
    note = json.loads(run("get", col, docs / "note.txt", "--json").stdout)["documents"]
    # fits: one record, its own id, naming itself as its document
    assert note[0]["metadata"] == {"source": str(docs / "note.txt"), "parent": str(docs / "note.txt")}


def test_md_chunks_carry_parent_and_offsets(library):
    col, docs, _ = library
    md = str(docs / "guide.md")
    text = read_source(md).texts[0]  # offsets index the visible text (no `## ` markers)
    titles = [line[3:] for line in abstracts(3).splitlines() if line.startswith("## ")]
    chunks = json.loads(run("get", col, "--where", json.dumps({"parent": md}), "--json").stdout)["documents"]
    assert len(chunks) >= 3 and sorted(c["id"] for c in chunks) == sorted(f"{md}#{i}" for i in range(len(chunks)))
    for c in chunks:
        m = c["metadata"]
        assert set(m) == {"source", "parent", "chunk", "start", "end", "section"} and m["source"] == md
        assert text[m["start"]:m["end"]] == c["text"] and c["id"] == f"{md}#{m['chunk']}"
        assert m["section"] in titles and m["section"] in text[:m["start"] + len(m["section"])]


def test_pdf_chunks_know_their_page(library):
    col, docs, _ = library
    pdf = str(docs / "reports" / "survey.pdf")
    chunks = json.loads(run("get", col, "--where", json.dumps({"parent": pdf}), "--json").stdout)["documents"]
    assert {c["metadata"]["page"] for c in chunks} == {1, 2, 3}
    assert all(c["metadata"]["page_count"] == 3 and c["metadata"]["source"] == pdf for c in chunks)
    out = json.loads(run("search", col, "volcanic ash survey", "-k", "3", "--where",
                         json.dumps({"parent": pdf}), "--json").stdout)
    top = out["hits"][0]
    assert top["metadata"]["page"] == 2 and "volcanic ash" in top["text"] and "glacier" not in top["text"]
    assert top["text"] in read_source(pdf).texts[0]


def test_json_summary_html_parquet_and_no_chunk(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "page.html").write_text("<title>Tea</title><script>x()</script><p>Green tea &amp; milk.</p>")
    pq.write_table(pa.table({"id": ["p1"], "text": ["A parquet row about coffee."], "n": [3]}),
                   tmp_path / "in" / "rows.parquet")
    (tmp_path / "in" / "long.md").write_text(abstracts(2))
    (tmp_path / "in" / "slides.pptx").write_bytes(b"PK")
    embkit.create(tmp_path / "c").close()
    out = json.loads(invoke("add", tmp_path / "c", tmp_path / "in", "--no-chunk", "--json", code=3).stdout)
    skipped = [{"file": str(tmp_path / "in" / "slides.pptx"), "reason": out["skipped"][0]["reason"],
                "kind": "unknown format"}]
    assert out["skipped"] == skipped and out["skipped"][0]["reason"].startswith("unknown format '.pptx'")
    assert (out["added"], out["documents"], out["chunks"], out["files"], out["count"]) == (3, 3, 3, 3, 3)
    with embkit.open(tmp_path / "c") as c:
        page, row, long = c.get([str(tmp_path / "in" / "page.html"), "p1", str(tmp_path / "in" / "long.md")])
    assert page.text == "Green tea & milk." and page.metadata["title"] == "Tea"
    assert row.metadata == {"n": 3, "source": str(tmp_path / "in" / "rows.parquet"), "parent": "p1"}
    assert long.text == read_source(str(tmp_path / "in" / "long.md")).texts[0]  # --no-chunk: stored whole, as seen


def test_long_records_are_chunked_short_ones_untouched(tmp_path):
    (tmp_path / "d.jsonl").write_text(json.dumps({"id": "long", "text": abstracts(2), "kind": "paper"}) + "\n"
                                      + json.dumps({"id": "short", "text": "Tiny.", "kind": "note"}) + "\n")
    embkit.create(tmp_path / "c").close()
    out = invoke("add", tmp_path / "c", tmp_path / "d.jsonl", "--chunk-tokens", "128", "--overlap", "16").stdout
    assert out.startswith("added 2 documents as ") and " chunks from 1 file(s)" in out
    with embkit.open(tmp_path / "c") as c:
        # as written (explicit files keep their metadata), plus the document it is: itself
        assert c.get(["short"])[0].metadata == {"kind": "note", "parent": "short"}
        chunks = c.get(where={"parent": "long"})
    assert len(chunks) > 4
    assert all(d.metadata["source"] == str(tmp_path / "d.jsonl") and d.metadata["kind"] == "paper" for d in chunks)


def test_upsert_replaces_old_chunks(tmp_path):
    md = tmp_path / "a.md"
    embkit.create(tmp_path / "c").close()
    versions = [abstracts(3), abstracts(1), "Now a single line.", abstracts(2)]
    for version in versions:
        md.write_text(version)
        invoke("add", tmp_path / "c", md, "--upsert")
        with embkit.open(tmp_path / "c") as c:
            found = sorted(d.id for d in c.get(where={"source": str(md)}))
            whole = c.get([str(md)])
        if version == versions[2]:
            assert found == [str(md)] and whole[0].text == version
        else:
            assert len(found) > 1 and [d.id for d in whole] == [f"{md}#{i}" for i in range(len(found))]
            assert found == sorted(f"{md}#{i}" for i in range(len(found)))  # the document id gives its chunks


def test_bad_options_and_unreadable_named_files(tmp_path):
    (tmp_path / "a.txt").write_text("hello")
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4 truncated")
    run("init", tmp_path / "c")
    for args, message in [
        (("--chunk-tokens", "8"), "error: chunk_tokens: must be an integer from 16 to 8192, got 8"),
        (("--overlap", "128"), "error: overlap: must be an integer from 0 to 127 (less than half of chunk_tokens"),
        (("--chunk-tokens", "512"), "error: chunk_tokens: 512 is more than model 'minilm' reads (256 tokens)"),
    ]:
        proc = run("add", tmp_path / "c", tmp_path / "a.txt", *args, ok=False)
        assert proc.returncode == 1 and proc.stderr.startswith(message) and proc.stderr.count("\n") == 1, proc.stderr
    proc = run("add", tmp_path / "c", tmp_path / "bad.pdf", ok=False)  # named explicitly: an error, not a skip
    assert proc.returncode == 1 and proc.stderr.startswith(f"error: {tmp_path / 'bad.pdf'}: not a readable pdf")
    (tmp_path / "only").mkdir()
    (tmp_path / "bad.pdf").rename(tmp_path / "only" / "bad.pdf")
    proc = run("add", tmp_path / "c", tmp_path / "only", ok=False)
    assert proc.returncode == 1 and proc.stderr == (f"error: files: no documents found in {tmp_path / 'only'} "
                                                    "(skipped 1 file: 1 unreadable file)\n")
    with embkit.open(tmp_path / "c") as c:
        assert c.count() == 0
