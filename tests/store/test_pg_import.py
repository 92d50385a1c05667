"""`embkit import URL vectors/` bulk-loads parquet shards (from `ingest_local`, the path
`embkit ingest-distributed` takes) into a PostgreSQL collection without embedding
again: the stored vectors are the shards' (within float32 rounding), a search by a
stored vector finds its own id first and ranks as the same import into a folder does;
a damaged shard or a taken id changes nothing."""

import shutil

import numpy as np
import pytest

import embkit
import embkit.collection.core
from embkit.ingest.shards import ingest_local, read_shard

from pg_docs import cli, cli_json, collection_url
from pg_server import PostgresServer, available
from ray_cluster import scifact_abstracts, write_shards

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

N_DOCS, N_SHARDS = 40, 3


@pytest.fixture(scope="module")
def server():
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def vectors(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shards")
    write_shards(tmp / "inputs", scifact_abstracts(N_DOCS), N_SHARDS)
    summary = ingest_local([str(tmp / "inputs")], tmp / "vectors", id_column="id")
    assert (summary["processed"], summary["documents"], summary["failed"]) == (N_SHARDS, N_DOCS, [])
    return tmp / "vectors"


def shard_rows(folder):
    rows = [read_shard(p, 384) for p in sorted(folder.glob("*.parquet"))]
    return ([i for r in rows for i in r.ids], [t for r in rows for t in r.texts],
            [m for r in rows for m in r.metadatas], np.concatenate([r.vectors for r in rows]))


@pytest.fixture
def no_encoder(monkeypatch):
    """Loading a model fails: whatever passes did not embed."""
    def refuse(*args, **kwargs):
        raise AssertionError("import must not load a model")

    monkeypatch.setattr(embkit.collection.core, "load_encoder", refuse)


def test_import_loads_the_shards_as_they_are(server, vectors, tmp_path, no_encoder):
    url, folder = collection_url(server, "imported"), tmp_path / "docs"
    ids, texts, metadatas, matrix = shard_rows(vectors)
    for target in (url, folder):
        cli("init", target)
        summary = cli_json("import", target, vectors, "--batch-size", "7")
        assert (summary["rows"], summary["count"], summary["shards"]) == (len(ids), len(ids), N_SHARDS)
    with embkit.open(url) as col, embkit.open(folder) as local:
        docs = col.get(ids, include_vectors=True)
        assert [(d.id, d.text, d.metadata) for d in docs] == list(zip(ids, texts, metadatas))
        np.testing.assert_allclose(np.stack([d.vector for d in docs]), matrix, atol=1e-6)
        for row in (0, len(ids) // 2, len(ids) - 1):
            hits = col.search(vector=matrix[row], k=5)
            assert hits[0].id == ids[row] and hits[0].score == pytest.approx(1.0, abs=1e-5)
            expected = local.search(vector=matrix[row], k=5)
            assert [h.id for h in hits] == [h.id for h in expected]
            np.testing.assert_allclose([h.score for h in hits], [h.score for h in expected], atol=1e-5)


def test_a_damaged_shard_changes_nothing(server, vectors, tmp_path, no_encoder):
    url = collection_url(server, "damaged")
    cli("init", url)
    broken = tmp_path / "vectors"
    shutil.copytree(vectors, broken)
    shard = sorted(broken.glob("*.parquet"))[-1]  # the last one: the others would be written first
    shard.write_bytes(shard.read_bytes()[:200])
    result = cli("import", url, broken, "--batch-size", "5", code=1)
    assert str(result.exception).startswith(f"{shard}: not a readable parquet shard")
    with embkit.open(url) as col:
        assert (col.count(), col.info()["generation"]) == (0, 0)


def test_a_taken_id_changes_nothing_unless_upsert(server, vectors, no_encoder):
    url = collection_url(server, "taken")
    ids, texts, _, matrix = shard_rows(vectors)
    cli("init", url)
    with embkit.open(url) as col:
        col.add(["something else"], ids=[ids[3]], vectors=matrix[3:4] * -1)
        before = col.info()["generation"]
    result = cli("import", url, vectors, code=1)
    assert repr(ids[3]) in str(result.exception) and "--upsert" in str(result.exception)
    with embkit.open(url) as col:
        assert (col.count(), col.info()["generation"]) == (1, before)
    assert cli_json("import", url, vectors, "--upsert")["count"] == len(ids)
    with embkit.open(url) as col:
        doc = col.get([ids[3]], include_vectors=True)[0]
        assert doc.text == texts[3] and np.allclose(doc.vector, matrix[3], atol=1e-6)
        assert col.search(vector=matrix[3], k=1)[0].id == ids[3]
