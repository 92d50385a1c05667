"""`unit` through every door: the CLI (`--unit`), HTTP (`unit` in the body) and Python
(`unit=`) give the same groups, ids and scores for cluster, dedupe, outliers and the
map, over documents by default (pages of tests/chunked_pages.py)."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import embkit

from chunked_pages import DOCUMENTS, build, chunk_ids
from live_server import LiveServer, create_key

sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
from test_cli import fails, run  # noqa: E402


@pytest.fixture(scope="module")
def served(tmp_path_factory, minilm):
    """The pages twice: `docs` behind a live server, `ref` for the library and the CLI."""
    root = tmp_path_factory.mktemp("root")
    build(root / "docs", minilm)
    shutil.copytree(root / "docs", root.parent / "ref")
    keys_file = root.parent / "keys.json"
    key = create_key(keys_file, "admin")
    live = LiveServer([str(root / "docs"), "--keys-file", str(keys_file)], root.parent / "server.log")
    with embkit.open(root.parent / "ref") as col, live.client(key) as client:
        col._encoder = minilm
        yield col, client
    assert live.stop() == 0


def cli_json(*args) -> dict:
    return json.loads(run(*args, "--json").stdout)


def test_outliers_are_the_same_documents_in_every_door(served):
    col, client = served
    expected = [o._asdict() for o in col.outliers(top=6, k=2)]
    over_http = client.post("/collections/docs/outliers", json={"top": 6, "k": 2})
    assert over_http.status_code == 200, over_http.text
    for got in (over_http.json(), cli_json("outliers", col.path, "--top", "6", "-k", "2")):
        assert got["unit"] == "document"
        assert [r["id"] for r in got["results"]] == [o["id"] for o in expected]
        np.testing.assert_allclose([r["score"] for r in got["results"]], [o["score"] for o in expected], atol=1e-5)
    chunks = cli_json("outliers", col.path, "--top", "20", "-k", "2", "--unit", "chunk")
    assert [r["id"] for r in chunks["results"]] == [o.id for o in col.outliers(top=20, k=2, unit="chunk")]


def test_dedupe_and_duplicates_agree_in_every_door(served):
    col, client = served
    expected = json.loads(json.dumps(col.dedupe().to_dict()))  # pairs as JSON lists
    assert [g["ids"] for g in expected["groups"]] == [["setup", "setup-copy"]]
    assert client.post("/collections/docs/dedupe", json={}).json() == expected
    assert cli_json("dedupe", col.path) == expected
    chunk = json.loads(json.dumps(col.dedupe(unit="chunk").to_dict()))
    assert client.post("/collections/docs/dedupe", json={"unit": "chunk"}).json() == chunk
    assert cli_json("dedupe", col.path, "--unit", "chunk") == chunk
    groups = client.post("/collections/docs/duplicates", json={"unit": "document"}).json()
    assert groups == {"unit": "document", "groups": [{k: v for k, v in g.items() if k != "keep"}
                                                     for g in expected["groups"]]}


def test_cluster_labels_whole_documents_in_every_door(served):
    col, client = served
    python = col.cluster(k=3, seed=0).to_dict(labels=True)
    over_http = client.post("/collections/docs/cluster", json={"k": 3, "seed": 0}).json()
    cli = cli_json("cluster", col.path, "-k", "3")
    for got in (over_http, cli):
        assert (got["unit"], got["documents"]) == ("document", 6)
        assert got["clusters"] == python["clusters"]
    labels = {d.id: d.metadata["cluster"] for d in col.get()}
    assert labels == {i: python["labels"][page] for page in DOCUMENTS for i in chunk_ids(page)}


def test_map_has_one_point_per_document(served):
    col, client = served
    points = client.get("/collections/docs/map", params={"method": "pca"}).json()
    assert points["unit"] == "document" and [p["id"] for p in points["points"]] == DOCUMENTS
    assert points["points"][0]["text"] == "Setup"  # a document shows its title
    expected = col.project("pca")
    np.testing.assert_allclose([[p["x"], p["y"]] for p in points["points"]], expected.xy, atol=1e-4)
    chunks = client.get("/collections/docs/map", params={"method": "pca", "unit": "chunk"}).json()
    assert [p["id"] for p in chunks["points"]] == col.project("pca", unit="chunk").ids


def test_delete_over_http_removes_the_whole_copy(served):
    col, client = served
    report = client.post("/collections/docs/dedupe", json={"delete": True}).json()
    assert (report["delete"], report["deleted"], report["chunks_deleted"]) == (["setup-copy"], 1, 3)
    ids = [d["id"] for d in client.post("/collections/docs/get", json={}).json()["documents"]]
    assert ids == [i for page in DOCUMENTS if page != "setup-copy" for i in chunk_ids(page)]


def test_a_bad_unit_is_one_clear_error_in_every_door(served):
    col, client = served
    message = "unit: must be one of document, chunk, got 'page'"
    for path in ("outliers", "duplicates", "dedupe", "cluster"):
        r = client.post(f"/collections/docs/{path}", json={"unit": "page"})
        assert r.status_code == 422 and r.json()["error"]["message"] == message, (path, r.text)
    assert client.get("/collections/docs/map", params={"unit": "page"}).json()["error"]["message"] == message
    for verb in ("outliers", "dedupe", "cluster"):
        assert fails(verb, col.path, "--unit", "page") == f"error: {message}"
