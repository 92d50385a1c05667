"""A vector is JSON numbers, through every door: "1.5" and true were read as 1.5 and 1.0
(by Python's numpy conversion, and by the HTTP schema's lax floats), so a client's
mistake was stored or searched as some other vector. Each is refused with the one-line
error naming the field, and nothing is written."""

import numpy as np
import pytest

import embkit
from embkit.errors import EmbkitError

from live_server import served_client

BAD = [["1.5", 2.0], [True, False], [1.0, None]]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    work = tmp_path_factory.mktemp("strict_vectors")
    with embkit.create(work / "vecs", model=None, dim=2) as col:
        col.add(ids=["a"], vectors=[[1.0, 0.0]])
    with served_client([str(work / "vecs"), "--no-auth"], work / "server.log") as client:
        yield client, work / "vecs"


@pytest.mark.parametrize("vector", BAD, ids=["string", "bools", "null"])
def test_http_refuses_a_vector_that_is_not_numbers(served, vector):
    client, _ = served
    r = client.post("/collections/vecs/add", json={"documents": [{"id": "b", "vector": vector}]})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"].startswith("documents.0.vector: expected a list of numbers, got "), r.text
    r = client.post("/collections/vecs/search", json={"vector": vector, "k": 1})
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("vector: expected a list of numbers")
    assert [d["id"] for d in client.post("/collections/vecs/get", json={}).json()["documents"]] == ["a"]
    assert client.post("/collections/vecs/search", json={"vector": [1, 0], "k": 1}).json()["hits"][0]["id"] == "a"


@pytest.mark.parametrize("vector", BAD, ids=["string", "bools", "null"])
def test_python_refuses_a_vector_that_is_not_numbers(tmp_path, vector):
    with embkit.create(tmp_path / "c", model=None, dim=2) as col:
        col.add(ids=["a"], vectors=[[1.0, 0.0]])
        with pytest.raises(EmbkitError, match=r"^vectors: expected numbers in an \(n, 2\) array$"):
            col.add(ids=["b"], vectors=[vector])
        with pytest.raises(EmbkitError, match=r"^vector: expected numbers"):
            col.search(vector=vector, k=1)
        assert col.count() == 1
        col.add(ids=["c"], vectors=np.array([[0, 1]], dtype=np.int8))  # integer arrays are numbers
        assert col.search(vector=[0, 1], k=1)[0].id == "c"


@pytest.mark.parametrize("rows", [[[0.5, True]], [[1, True]], [[0.5, np.True_]], [np.array([True, False]), [0.5, 0.5]]],
                         ids=["float,true", "int,true", "float,numpy true", "bool row,float row"])
def test_python_refuses_a_bool_among_numbers(tmp_path, rows):
    # numpy reads [0.5, True] as float64 [0.5, 1.0]: the dtype alone does not tell the bool
    with embkit.create(tmp_path / "c", model=None, dim=2) as col:
        with pytest.raises(EmbkitError, match=r"^vectors: expected numbers in an \(n, 2\) array$"):
            col.add(ids=[f"b{i}" for i in range(len(rows))], vectors=rows)
        with pytest.raises(EmbkitError, match=r"^vector: expected numbers"):
            col.search(vector=rows[0], k=1)
        assert col.count() == 0
