"""`embkit import` checks every row's vector by the write's own rule (ingest/vectors.py
stored_form) before the first batch: a zero row for cosine, an l2/dot row longer than
MAX_LENGTH, in the LAST row of the last shard, was refused only when its batch came,
after the rows before it were written (one-row batches: all of them). NaN/inf and
another width were already refused by read_shard; they stay so. No Ray."""

import json

import numpy as np
import pytest

import embkit
from embkit.errors import EmbkitError
from embkit.ingest.bulk import import_shards
from embkit.ingest.shards import ingest_local, read_shard

DOCS = [[{"id": "alpha", "text": "Bread rises when the dough is warm."},
         {"id": "beta", "text": "The moon circles the earth."}],
        [{"id": "gamma", "text": "Rivers carry silt to the sea."},
         {"id": "delta", "text": "Bridges span the river beside the town."}]]


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    work = tmp_path_factory.mktemp("vectors")
    sources = []
    for n, docs in enumerate(DOCS):
        sources.append(work / f"part-{n}.jsonl")
        sources[-1].write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    ingest_local([str(s) for s in sources], work / "v")
    paths = sorted((work / "v").glob("*.parquet"))
    assert len(paths) == 2 and read_shard(paths[-1], 384).ids == ["gamma", "delta"]
    return work / "v"


def with_last_vector(folder, out, row_of):
    """A copy of `folder` whose last shard's last vector is `row_of(vector)`; the shard's path."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    shutil.copytree(folder, out)
    last = sorted(out.glob("*.parquet"))[-1]
    table = pq.read_table(last)
    vectors = table.column("vector").to_pylist()
    vectors[-1] = row_of(np.asarray(vectors[-1], dtype=np.float32)).tolist()
    width = len(vectors[0]) if len({len(v) for v in vectors}) == 1 else None
    kind = pa.list_(pa.float32(), width) if width else pa.list_(pa.float32())
    index = table.schema.get_field_index("vector")
    pq.write_table(table.set_column(index, "vector", pa.array(vectors, type=kind)), last)
    return last, len(vectors) - 1


def import_refused(col, folder) -> str:
    before = col.count()
    with pytest.raises(EmbkitError) as e:
        import_shards(col, folder, batch_size=1)  # a transaction a row: a late refusal leaves rows written
    assert col.count() == before == 0  # nothing landed
    return str(e.value)


def refused_by_add(col, vector) -> str:
    with pytest.raises(EmbkitError) as e:
        col.add(["a row"], ids=["probe"], vectors=vector[None, :])
    return str(e.value)


@pytest.mark.parametrize(("metric", "row_of"), [
    ("l2", lambda v: v * np.float32(1e19)),    # length 1e19 > MAX_LENGTH
    ("dot", lambda v: v * np.float32(3e18)),
    ("cosine", lambda v: v * 0),               # no direction
])
def test_a_last_row_the_write_refuses_is_refused_before_any_batch(shards, tmp_path, metric, row_of):
    broken, row = with_last_vector(shards, tmp_path / "v", row_of)
    with embkit.create(tmp_path / "c", metric=metric) as col:
        got = import_refused(col, tmp_path / "v")
        want = refused_by_add(col, np.asarray(row_of(read_shard(shards / broken.name, 384).vectors[row])))
    assert want.startswith("vectors[0]: ")  # the write's message, its row in the shard's numbering
    assert got == f"{broken}: vectors[{row}]: " + want.removeprefix("vectors[0]: ")


@pytest.mark.parametrize(("row_of", "message"), [
    (lambda v: np.where(np.arange(len(v)) == 5, np.nan, v), "row {row}: vector has NaN or infinite values"),
    (lambda v: np.where(np.arange(len(v)) == 5, np.inf, v), "row {row}: vector has NaN or infinite values"),
    (lambda v: v[:383], "column 'vector' is list<element: float>, expected fixed_size_list<float>[384]"),
])
def test_a_last_row_not_finite_or_another_width_is_refused_before_any_batch(shards, tmp_path, row_of, message):
    broken, row = with_last_vector(shards, tmp_path / "v", row_of)
    with embkit.create(tmp_path / "c", metric="l2") as col:
        assert import_refused(col, tmp_path / "v") == f"{broken}: " + message.format(row=row)


def test_a_row_under_the_limit_is_imported(shards, tmp_path):
    """The limit is the write's: 1e17 long (under 1e18) lands, as an add takes it."""
    broken, row = with_last_vector(shards, tmp_path / "v", lambda v: v * np.float32(1e17))
    with embkit.create(tmp_path / "c", metric="l2") as col:
        assert import_shards(col, tmp_path / "v", batch_size=1)["count"] == 4
        stored = col.get(["delta"], include_vectors=True)[0].vector
    assert np.linalg.norm(stored.astype(np.float64)) == pytest.approx(1e17, rel=1e-5)
