"""`embkit import URL vectors/` into PostgreSQL: a last row the write refuses (an l2 row
longer than MAX_LENGTH, a zero row for cosine, NaN) is refused before the first batch,
naming the shard and the row; nothing is written (count and generation unchanged). The
over-limit and zero rows were refused only when their batch came, after the rows
before them were written."""

import json
import shutil

import numpy as np
import pytest

import embkit

from pg_docs import cli, collection_url


@pytest.fixture(scope="module")
def vectors(tmp_path_factory):
    from embkit.ingest.shards import ingest_local

    tmp = tmp_path_factory.mktemp("shards")
    texts = ["Bread rises when the dough is warm.", "The moon circles the earth.",
             "Rivers carry silt to the sea.", "Bridges span the river beside the town."]
    for n in (0, 1):
        (tmp / f"part-{n}.jsonl").write_text("".join(json.dumps({"id": f"d{n}{i}", "text": t}) + "\n"
                                                     for i, t in enumerate(texts[2 * n:2 * n + 2])))
    ingest_local([str(tmp / "part-0.jsonl"), str(tmp / "part-1.jsonl")], tmp / "vectors")
    return tmp / "vectors"


@pytest.mark.parametrize(("metric", "scale", "message"), [
    ("l2", 1e19, "vectors[1]: length 1e+19 is over the limit of 1e+18 for the l2 metric "
                 "(its float32 scores would overflow)"),
    ("cosine", 0.0, "vectors[1]: zero vector cannot be used with the cosine metric"),
    ("cosine", np.nan, "row 1: vector has NaN or infinite values"),
])
def test_a_bad_last_row_changes_nothing(pg_server, vectors, tmp_path, metric, scale, message):
    import pyarrow as pa
    import pyarrow.parquet as pq

    url = collection_url(pg_server, f"v_{metric}_{str(scale).replace('.', '_').replace('+', '')}")
    cli("init", url, "--metric", metric)
    broken = tmp_path / "vectors"
    shutil.copytree(vectors, broken)
    last = sorted(broken.glob("*.parquet"))[-1]  # the other shard would be written first
    table = pq.read_table(last)
    rows = table.column("vector").to_pylist()
    rows[-1] = (np.asarray(rows[-1], dtype=np.float32) * np.float32(scale)).tolist()
    index = table.schema.get_field_index("vector")
    pq.write_table(table.set_column(index, "vector", pa.array(rows, type=table.schema.field("vector").type)), last)
    result = cli("import", url, broken, "--batch-size", "1", code=1)
    assert str(result.exception) == f"{last}: {message}"
    with embkit.open(url) as col:
        assert (col.count(), col.info()["generation"]) == (0, 0)
