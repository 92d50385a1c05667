"""Shards embedded in this process (`ingest_local`, `ingest-distributed --address none`)
and `embkit import`: the same records as `embkit add` (chunks included), resume by
manifest, bulk loading into a SQLite collection that refuses a model mismatch, a
taken id or a damaged shard without changing anything. No Ray needed."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import embkit
from embkit.cli import app
from embkit.errors import EmbkitError
from embkit.ingest.shards import Manifest, ingest_local, read_shard

from ray_cluster import scifact_abstracts, write_shards

N_DOCS, N_SHARDS = 200, 4


def invoke(*args, code: int = 0):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == code, (result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("inputs")
    write_shards(folder, scifact_abstracts(N_DOCS), N_SHARDS)
    return folder


@pytest.fixture(scope="module")
def vectors(inputs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("vectors") / "v"
    summary = json.loads(invoke("ingest-distributed", "--address", "none", "--input", f"{inputs}/*.jsonl|*.parquet",
                                "-o", out, "--json").stdout)
    assert summary["processed"] == N_SHARDS and summary["documents"] == N_DOCS and not summary["failed"]
    return out


def all_rows(out: Path):
    rows = [read_shard(p, 384) for p in sorted(out.glob("*.parquet"))]
    return ([i for r in rows for i in r.ids], [t for r in rows for t in r.texts],
            [m for r in rows for m in r.metadatas], np.concatenate([r.vectors for r in rows]))


def test_import_into_sqlite_collection(vectors, tmp_path, minilm):
    path = tmp_path / "col"
    invoke("init", path)
    summary = json.loads(invoke("import", path, vectors, "--batch-size", 70, "--json").stdout)
    assert summary["rows"] == N_DOCS and summary["count"] == N_DOCS and summary["shards"] == N_SHARDS
    ids, texts, metadatas, matrix = all_rows(vectors)
    with embkit.open(path) as col:
        docs = col.get(ids, include_vectors=True)
        assert [d.id for d in docs] == ids
        assert [d.text for d in docs] == texts and [d.metadata for d in docs] == metadatas
        assert np.allclose(np.stack([d.vector for d in docs]), matrix, atol=1e-6)
        hits = col.search(texts[123], k=3)
        assert hits[0].id == ids[123]
        assert hits[0].score == pytest.approx(float(minilm.encode([texts[123]])[0] @ matrix[123]), abs=1e-4)


def test_import_refuses_taken_ids_unless_upsert(vectors, tmp_path):
    path = tmp_path / "col"
    taken = read_shard(vectors / "part-002.parquet", 384).ids[7]  # the records' own ids (column `id`)
    with embkit.create(path) as col:
        col.add(["something else entirely"], ids=[taken])
    result = invoke("import", path, vectors, code=1)
    assert repr(taken) in str(result.exception) and "--upsert" in str(result.exception)
    with embkit.open(path) as col:
        assert col.count() == 1
    invoke("import", path, vectors, "--upsert")
    with embkit.open(path) as col:
        assert col.count() == N_DOCS
        assert col.get([taken])[0].text != "something else entirely"


def test_import_refuses_another_model_and_changes_nothing(vectors, tmp_path):
    path = tmp_path / "col"
    invoke("init", path, "--model", "minilm-int8")
    result = invoke("import", path, vectors, code=1)
    message = str(result.exception)
    assert message.startswith("model:") and "'minilm'" in message and "'minilm-int8'" in message
    with embkit.open(path) as col:
        assert col.count() == 0


def test_damaged_shard_is_an_error_and_nothing_lands(vectors, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(vectors, broken)
    last = sorted(broken.glob("*.parquet"))[-1]  # the shards before it are fine
    data = bytearray(last.read_bytes())
    data[len(data) // 2:len(data) // 2 + 64] = b"\xff" * 64  # damage the middle: the footer still reads
    last.write_bytes(bytes(data))
    path = tmp_path / "col"
    invoke("init", path)
    result = invoke("import", path, broken, "--batch-size", 20, code=1)
    assert isinstance(result.exception, EmbkitError) and last.name in str(result.exception)
    last.write_bytes(b"PAR1 not really")  # and a file that is no parquet at all
    result = invoke("import", path, broken, code=1)
    assert last.name in str(result.exception) and "parquet" in str(result.exception)
    with embkit.open(path) as col:
        assert col.count() == 0


def test_a_bad_row_after_the_first_batch_is_an_error_and_nothing_lands(vectors, tmp_path):
    """Only ids were checked before writing: a row whose metadata `add` refuses, past the
    first batch, left the batches before it written (20 of 30 rows in the probe)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    broken = tmp_path / "broken"
    shutil.copytree(vectors, broken)
    last = sorted(broken.glob("*.parquet"))[-1]
    table = pq.read_table(last)
    metadata = table.column("metadata").to_pylist()
    metadata[30] = json.dumps({"k": "bad\u0000value"})
    pq.write_table(table.set_column(table.schema.get_field_index("metadata"), "metadata", pa.array(metadata)), last)
    path = tmp_path / "col"
    invoke("init", path)
    result = invoke("import", path, broken, "--batch-size", 20, code=1)
    assert str(result.exception) == (f"{last}: metadatas[30].k: contains a NUL character (U+0000), "
                                     "which metadata cannot hold")
    with embkit.open(path) as col:
        assert col.count() == 0


@pytest.mark.parametrize("column,value,error", [
    ("id", "x" * 513, "ids[30]: id of 513 characters exceeds the limit of 512"),
    ("id", " ", "ids[30]: expected a non-empty string, got ' '"),
    ("text", "y" * (5 * 1024 * 1024 + 1), "texts[30]: document of 5242881 bytes exceeds the limit of 5242880 bytes "
                                          "(max_document_bytes)"),
])
def test_a_row_add_refuses_after_the_first_batch_is_refused_before_anything_lands(vectors, tmp_path, column,
                                                                                   value, error):
    """The ids and text sizes `add` checks were not checked before writing: an id of 513
    characters, a blank one or a text past max_document_bytes at row 30 left 20 rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    broken = tmp_path / "broken"
    shutil.copytree(vectors, broken)
    last = sorted(broken.glob("*.parquet"))[-1]
    table = pq.read_table(last)
    values = table.column(column).to_pylist()
    values[30] = value
    pq.write_table(table.set_column(table.schema.get_field_index(column), column, pa.array(values)), last)
    path = tmp_path / "col"
    invoke("init", path)
    result = invoke("import", path, broken, "--batch-size", 20, code=1)
    assert str(result.exception) == f"{last}: {error}"
    with embkit.open(path) as col:
        assert col.count() == 0


def test_a_document_the_collection_holds_is_refused_before_anything_lands(vectors, tmp_path):
    """Only the rows' own ids were looked up before writing: a row that is a chunk of a
    document the collection holds (stored whole, id `story`) was refused by the batch that
    held it, after the batches before it were written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    broken = tmp_path / "broken"
    shutil.copytree(vectors, broken)
    last = sorted(broken.glob("*.parquet"))[-1]
    table = pq.read_table(last)
    ids, metadata = table.column("id").to_pylist(), table.column("metadata").to_pylist()
    ids[30], metadata[30] = "story#0", json.dumps({"parent": "story", "chunk": 0})
    table = table.set_column(table.schema.get_field_index("id"), "id", pa.array(ids))
    pq.write_table(table.set_column(table.schema.get_field_index("metadata"), "metadata", pa.array(metadata)), last)
    path = tmp_path / "col"
    invoke("init", path)
    with embkit.open(path) as col:
        col.add(["A short story, stored whole."], ids=["story"])
    result = invoke("import", path, broken, "--batch-size", 20, code=1)
    assert "'story'" in str(result.exception) and "upsert" in str(result.exception)
    with embkit.open(path) as col:
        assert col.count() == 1


def test_chunks_and_metadata_equal_embkit_add(tmp_path):
    long_docs = scifact_abstracts(12, chars=100_000)
    source = tmp_path / "long.jsonl"
    source.write_text("".join(json.dumps(d) + "\n" for d in long_docs), encoding="utf-8")
    options = ["--chunk-tokens", 64, "--overlap", 8]
    invoke("init", tmp_path / "added")
    invoke("add", tmp_path / "added", source, *options)
    invoke("ingest-distributed", "--address", "none", "--input", source, "--id-column", "id", "-o",
           tmp_path / "v", *options)
    invoke("init", tmp_path / "imported")
    invoke("import", tmp_path / "imported", tmp_path / "v")
    # again as an upsert in 3-row transactions: a document's chunks straddle them, and none is lost
    invoke("import", tmp_path / "imported", tmp_path / "v", "--upsert", "--batch-size", 3)
    with embkit.open(tmp_path / "added") as a, embkit.open(tmp_path / "imported") as b:
        want, got = a.table(), b.table()
    assert len(want) > len(long_docs)  # long documents were split
    order = {doc_id: i for i, doc_id in enumerate(got.ids)}
    assert sorted(got.ids) == sorted(want.ids)
    for i, doc_id in enumerate(want.ids):
        j = order[doc_id]
        assert got.texts[j] == want.texts[i] and got.metadatas[j] == want.metadatas[i], doc_id
        assert float(got.vectors[j] @ want.vectors[i]) >= 0.9999
    chunk = next(m for doc_id, m in zip(want.ids, want.metadatas) if "#" in doc_id)
    assert {"parent", "chunk", "start", "end", "source"} <= set(chunk)


def test_resume_skips_finished_shards_and_redoes_changed_ones(inputs, tmp_path):
    out = tmp_path / "v"
    first = ingest_local([str(inputs)], out, limit=2)
    assert first["processed"] == 2 and first["pending"] == N_SHARDS - 2
    manifest = Manifest.load(out)
    assert len(manifest.shards) == 2 and len(manifest.data["pending"]) == N_SHARDS - 2
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("*.parquet")}
    second = ingest_local([str(inputs)], out)
    assert second["processed"] == N_SHARDS - 2 and second["skipped"] == 2
    assert all((out / name).stat().st_mtime_ns == t for name, t in mtimes.items())
    changed = inputs / "part-000.jsonl"
    original = changed.read_text(encoding="utf-8")
    try:
        changed.write_text(original.replace("a", "A", 1), encoding="utf-8")
        third = ingest_local([str(inputs)], out)
    finally:
        changed.write_text(original, encoding="utf-8")
    assert third["processed"] == 1 and third["skipped"] == N_SHARDS - 1
    with pytest.raises(EmbkitError, match="^chunk_tokens: .* 256"):
        ingest_local([str(inputs)], out, chunk_tokens=128)


def test_bad_record_fails_its_shard_only(inputs, tmp_path):
    folder = tmp_path / "in"
    shutil.copytree(inputs, folder)
    bad = folder / "part-002.jsonl"
    lines = bad.read_text(encoding="utf-8").splitlines()
    lines[4] = json.dumps({"id": "x", "title": "no text"})
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = invoke("ingest-distributed", "--address", "none", "--input", folder, "-o", tmp_path / "v", code=3)
    assert f"{bad.resolve()}:5: missing field 'text'" in result.stderr
    assert len(Manifest.load(tmp_path / "v").shards) == N_SHARDS - 1


def test_inputs_are_checked(inputs, tmp_path):
    with pytest.raises(EmbkitError, match="^input: no files to read match"):
        ingest_local([str(tmp_path / "nothing-*.jsonl")], tmp_path / "v")
    (tmp_path / "notes.docx").write_bytes(b"PK")
    with pytest.raises(EmbkitError, match=r"^input: .*notes\.docx: unknown format '\.docx'"):
        ingest_local([str(tmp_path / "notes.docx")], tmp_path / "v")


def test_files_with_the_same_name_get_their_own_shards(inputs, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "part-000.jsonl").write_text('{"text": "one more line"}\n', encoding="utf-8")
    summary = ingest_local([str(inputs / "part-000.jsonl"), str(other)], tmp_path / "v")
    assert summary["processed"] == 2 and not summary["failed"]
    outputs = sorted(p.name for p in (tmp_path / "v").glob("*.parquet"))
    assert len(outputs) == 2 and all(name.startswith("part-000-") for name in outputs)
    rows = [read_shard(tmp_path / "v" / name, 384) for name in outputs]
    assert sorted(len(r.ids) for r in rows) == [1, N_DOCS // N_SHARDS]
    # a record without an id is <file>:<row>, named as the file was found
    assert [i for r in rows for i in r.ids if i.endswith(":0")] == [f"{other / 'part-000.jsonl'}:0"]


def test_a_folder_with_files_a_text_job_cannot_take(tmp_path):
    from PIL import Image

    from pdf_maker import write_pdf

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# Tea\n\nGreen tea is <b>steamed</b>.", encoding="utf-8")
    (folder / "rows.csv").write_text("text\nOolong.\nMatcha.\n", encoding="utf-8")
    Image.new("RGB", (8, 8), "red").save(folder / "cup.png")
    (folder / "notes.docx").write_bytes(b"PK")
    pdf = write_pdf(tmp_path / "whole.pdf", ["A page about tea."])
    (folder / "cut.pdf").write_bytes(pdf.read_bytes()[:400])  # known format, does not read: found by the worker
    result = invoke("ingest-distributed", "--address", "none", "--input", folder, "-o", tmp_path / "v", "--json",
                    code=3)
    summary = json.loads(result.stdout)
    assert result.stderr.splitlines()[-1] == (
        "warning: skipped 3 files: 1 image (no image space; add one with --image-model), "
        "1 unknown format (.docx), 1 unreadable file; --verbose lists them")
    assert [(s["file"], s["kind"]) for s in summary["skipped_files"]] == [
        (f"{folder}/cup.png", "image"), (f"{folder}/cut.pdf", "unreadable"), (f"{folder}/notes.docx", "unknown format")]
    assert summary["processed"] == 2 and summary["documents"] == 3 and summary["pending"] == 0
    ids = sorted(i for p in (tmp_path / "v").glob("*.parquet") for i in read_shard(p, 384).ids)
    assert ids == [f"{folder}/a.md", f"{folder}/rows.csv:0", f"{folder}/rows.csv:1"]  # as `embkit add` names them
    verbose = invoke("ingest-distributed", "--address", "none", "--input", folder, "-o", tmp_path / "v", "--verbose",
                     code=3)
    assert f"warning: skipped {folder}/cut.pdf: " in verbose.stderr

