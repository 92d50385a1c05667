"""`embkit import` (ingest/bulk.py) refuses what the adds it makes would refuse, by the
same rule (ingest/write.py refuse_documents) and with the add's message, before any
row lands: a row id the collection holds, a row id the collection holds as a chunked
document, a chunk of a document the collection holds (whole or as chunks). Its own
copy of the rule looked up a chunk's `parent` whatever the chunk's id (refusing what an
add takes) and worded the refusal its own way. No Ray: shards embedded in this process."""

import json
import re

import pytest

import embkit
from embkit.errors import EmbkitError
from embkit.ingest.bulk import import_shards
from embkit.ingest.shards import ingest_local, read_shard

LONG = " ".join(f"Sentence {i} of the long report tells of rivers, bridges and the towns beside them."
                for i in range(40))
DOCS = [{"id": "alpha", "text": "Bread rises when the dough is warm."},
        {"id": "beta", "text": "The moon circles the earth."},
        {"id": "report", "text": LONG}]


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    work = tmp_path_factory.mktemp("refusals")
    source = work / "docs.jsonl"
    source.write_text("".join(json.dumps(d) + "\n" for d in DOCS), encoding="utf-8")
    ingest_local([str(source)], work / "v", chunk_tokens=32, overlap=4)
    rows = read_shard(next((work / "v").glob("*.parquet")), 384)
    assert "alpha" in rows.ids and "report#0" in rows.ids and "report#2" in rows.ids  # one long document chunked
    return work / "v", rows


def refused_by_add(col, rows, ids) -> str:
    """The message col.add gives the rows `ids` of the shards."""
    at = [rows.ids.index(i) for i in ids]
    with pytest.raises(EmbkitError) as e:
        col.add([rows.texts[i] for i in at], ids=ids, metadatas=[rows.metadatas[i] for i in at],
                vectors=rows.vectors[at])
    return str(e.value)


def import_refused(col, folder) -> str:
    before = col.count()
    with pytest.raises(EmbkitError) as e:
        import_shards(col, folder, batch_size=1)  # a transaction a row: a late refusal would leave rows written
    assert col.count() == before  # nothing landed
    return str(e.value)


@pytest.mark.parametrize(("held", "added"), [
    ({"beta": "something else"}, ["beta"]),                  # a row's id, stored whole
    ({"report#1": "a chunk of another report"}, ["report#1"]),  # a chunk's id
    ({"report": "the report, stored whole"}, ["report#0"]),   # a chunk of a document stored whole
    ({"alpha": LONG}, ["alpha"]),                            # a row's id, stored as chunks alpha#0, ...
    ({"beta#0": "a record of its own, no chunk"}, ["beta"]),  # ID#0 with no parent: alpha landed first
])
def test_the_import_refuses_as_the_add_and_writes_nothing(shards, tmp_path, held, added):
    folder, rows = shards
    with embkit.create(tmp_path / "c") as col:
        col.add(list(held.values()), ids=list(held))  # LONG is stored as chunks
        want = refused_by_add(col, rows, added)
        got = import_refused(col, folder)
    assert got == want.replace("use upsert", "use --upsert")  # the command's option, not the keyword


def test_a_parent_that_owns_nothing_is_not_refused(shards, tmp_path):
    """A row whose metadata names a `parent` its id is no chunk of (a client's field): the
    add takes it, so the import does too (its own rule refused it)."""
    folder, rows = shards
    import pyarrow as pa
    import pyarrow.parquet as pq

    shard = next(folder.glob("*.parquet"))
    table = pq.read_table(shard)
    metadata = table.column("metadata").to_pylist()
    beta = table.column("id").to_pylist().index("beta")
    metadata[beta] = json.dumps({**json.loads(metadata[beta] or "{}"), "parent": "gamma"})
    pq.write_table(table.set_column(table.schema.get_field_index("metadata"), "metadata", pa.array(metadata)), shard)
    try:
        with embkit.create(tmp_path / "c") as col:
            col.add(["gamma stands alone"], ids=["gamma"])
            summary = import_shards(col, folder)
            assert summary["count"] == 1 + len(rows.ids)
            assert col.get(["beta"])[0].metadata["parent"] == "gamma"
    finally:
        pq.write_table(table, shard)


def test_the_message_names_the_first_taken_in_the_shards_order(shards, tmp_path):
    folder, rows = shards
    with embkit.create(tmp_path / "c") as col:
        col.add(["x", "y"], ids=["report#2", "beta"])
        got = import_refused(col, folder)
    first = next(i for i in rows.ids if i in ("report#2", "beta"))
    assert re.fullmatch(rf"ids: 2 already exist \(first: '{re.escape(first)}'\); use --upsert to replace them", got)
