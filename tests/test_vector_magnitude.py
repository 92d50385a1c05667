"""A finite float32 vector of any magnitude, through every door. Cosine: a row whose
float32 sum of squares overflows (x1e20) or underflows (x1e-25) is normalized as float64
normalizes it (it was stored, or searched, as all zeros, with only a RuntimeWarning; a
tiny one was refused as a zero vector). l2 and dot: a row longer than MAX_LENGTH, whose
float32 distances overflow (a search found nothing), is refused with one line naming the
field and the limit, and nothing is written."""

import warnings

import numpy as np
import pytest

import embkit
from embkit.errors import EmbkitError
from embkit.ingest.vectors import MAX_LENGTH, stored_form

from live_server import served_client

DIM, N = 8, 40
SCALES = (1e19, 1e20, 1e30, 1e-20, 1e-25, 1e-40)  # squares past float32's range, both ways


def _float64_unit(rows: np.ndarray) -> np.ndarray:
    wide = rows.astype(np.float64)
    return (wide / np.linalg.norm(wide, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(autouse=True)
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow's RuntimeWarning fails the test
        yield


def _rows(seed: int = 0, n: int = N) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


def test_stored_form_normalizes_any_finite_cosine_row_as_float64_does():
    rows = _rows()
    for scale in SCALES:
        scaled = (rows[:4] * np.float32(scale)).astype(np.float32)
        assert np.isfinite(scaled).all() and (scaled != 0).any(axis=1).all()
        batch = np.vstack([rows[4:6], scaled])  # plain rows beside: l2_normalize's bits, as before
        got = stored_form(batch, "cosine", "vectors")
        np.testing.assert_allclose(got[2:], _float64_unit(scaled), rtol=0, atol=1e-6 if scale > 1e-39 else 1e-2)
        assert np.array_equal(got[:2], stored_form(rows[4:6], "cosine", "vectors"))
        one = stored_form(scaled[:1], "cosine", "vector")
        assert np.array_equal(one, got[2:3])
        assert np.array_equal(stored_form(one, "cosine", "vector"), one)  # its own form back, bit for bit
    extreme = np.full((1, DIM), np.finfo(np.float32).max, np.float32)
    assert np.allclose(stored_form(extreme, "cosine", "vector"), 1 / np.sqrt(DIM))
    with pytest.raises(EmbkitError, match=r"^vectors\[1\]: zero vector cannot be used with the cosine metric$"):
        stored_form(np.vstack([rows[:1], np.zeros((1, DIM), np.float32)]), "cosine", "vectors")


@pytest.mark.parametrize("metric", ["l2", "dot"])
def test_stored_form_refuses_an_l2_or_dot_row_past_the_limit(metric):
    rows = _rows()
    at_limit = rows[:1] / np.linalg.norm(rows[0]) * np.float32(MAX_LENGTH * 0.999)
    assert np.array_equal(stored_form(at_limit, metric, "vector"), at_limit)
    message = (rf"^vectors\[1\]: length 1\.5e\+19 is over the limit of 1e\+18 for the {metric} metric "
               r"\(its float32 scores would overflow\)$")
    with pytest.raises(EmbkitError, match=message):
        stored_form(np.vstack([rows[:1], rows[1:2] / np.linalg.norm(rows[1]) * np.float32(1.5e19)]), metric, "vectors")


@pytest.mark.parametrize("spec", ["flat", "hnsw:M=16,efc=100"])
def test_python_add_upsert_and_search_of_huge_cosine_vectors(tmp_path, spec):
    rows = _rows()
    with embkit.create(tmp_path / "c", model=None, dim=DIM) as col:
        col.add(ids=[f"d{i}" for i in range(N)], vectors=rows, texts=["t"] * N, metadatas=[{"g": 1}] * N)
        col.build_index(spec)
        col.add(ids=["big"], vectors=rows[:1] * np.float32(-1e20), texts=["t"])  # -d0's direction
        col.upsert(ids=["d1"], vectors=rows[1:2] * np.float32(1e25), texts=["t"])
        col.add(ids=["tiny"], vectors=rows[2:3] * np.float32(-1e-25), texts=["t"])
        stored = {d.id: d.vector for d in col.get(["big", "d1", "tiny"], include_vectors=True)}
        np.testing.assert_allclose(stored["big"], _float64_unit(-rows[:1])[0], atol=1e-6)
        np.testing.assert_allclose(stored["d1"], _float64_unit(rows[1:2])[0], atol=1e-6)
        np.testing.assert_allclose(stored["tiny"], _float64_unit(-rows[2:3])[0], atol=1e-6)
        for i, want in ((0, "big"), (1, "d1"), (2, "tiny")):
            sign = 1 if want == "d1" else -1
            hit = col.search(vector=sign * _float64_unit(rows[i:i + 1])[0], k=1)[0]
            assert hit.id == want and hit.score == pytest.approx(1.0, abs=1e-5)
        queries = _rows(seed=3, n=6)
        for q in queries:
            unit = [(h.id, h.score) for h in col.search(vector=q / np.linalg.norm(q), k=5)]
            assert all(s > -1.01 for _, s in unit)
            for scale in SCALES[:-1]:  # not x1e-40: subnormal float32 rows lose the direction's low bits
                big = (q * np.float32(scale)).astype(np.float32)
                warm = [(h.id, h.score) for h in col.search(vector=big, k=5)]  # the warm path hands it over
                full = [(h.id, h.score) for h in col.search(vector=big, k=5, where={"g": {"$ne": 2}})]
                for got in (warm, full):
                    assert [i for i, _ in got] == [i for i, _ in unit], scale
                    assert np.allclose([s for _, s in got], [s for _, s in unit], atol=1e-5)


@pytest.mark.parametrize("metric", ["l2", "dot"])
@pytest.mark.parametrize("spec", ["flat", "hnsw:M=16,efc=100"])
def test_python_refuses_l2_and_dot_vectors_past_the_limit(tmp_path, metric, spec):
    rows = _rows()
    with embkit.create(tmp_path / "c", model=None, dim=DIM, metric=metric) as col:
        col.add(ids=[f"d{i}" for i in range(N)], vectors=rows, texts=["t"] * N, metadatas=[{"g": 1}] * N)
        col.build_index(spec)
        want = [h.id for h in col.search(vector=rows[0], k=5)]
        assert col.search(vector=rows[0] * np.float32(1e17), k=5)  # under the limit: searched
        col.search(vector=rows[0], k=5)  # warm
        over = rf"is over the limit of 1e\+18 for the {metric} metric \(its float32 scores would overflow\)$"
        for scale in (1e19, 1e20, 1e30):
            big = rows[0] * np.float32(scale)
            for options in ({}, {"where": {"g": 1}}, {"mmr": 0.5}):
                with pytest.raises(EmbkitError, match=rf"^vector\[0\]: length \S+ {over}"):
                    col.search(vector=big, k=5, **options)
            for write in (col.add, col.upsert):
                with pytest.raises(EmbkitError, match=rf"^vectors\[1\]: length \S+ {over}"):
                    write(ids=["x", "y"], vectors=np.vstack([rows[:1], big[None]]), texts=["t", "t"])
        assert col.count() == N and [h.id for h in col.search(vector=rows[0], k=5)] == want


def test_http_refuses_l2_vectors_past_the_limit_and_takes_huge_cosine_ones(tmp_path):
    rows = _rows()
    for name, metric in (("flat_l2", "l2"), ("cos", "cosine")):
        with embkit.create(tmp_path / name, model=None, dim=DIM, metric=metric) as col:
            col.add(ids=[f"d{i}" for i in range(N)], vectors=rows, texts=["t"] * N)
    big = [float(x) for x in rows[5] * np.float32(1e20)]
    length = f"length {np.linalg.norm(np.array(big, np.float64)):.3g}"
    with served_client([str(tmp_path / "flat_l2"), str(tmp_path / "cos"), "--no-auth"], tmp_path / "log") as client:
        limit = "is over the limit of 1e+18 for the l2 metric (its float32 scores would overflow)"
        for path in ("add", "upsert"):
            r = client.post(f"/collections/flat_l2/{path}", json={"documents": [{"id": "x", "vector": big}]})
            assert r.status_code == 422, r.text
            assert r.json()["error"]["message"] == f"vectors[0]: {length} {limit}"
        for _ in range(2):  # the second time the index is ready: the server's fast path hands it over
            r = client.post("/collections/flat_l2/search", json={"vector": big, "k": 3})
            assert r.status_code == 422 and r.json()["error"]["message"] == f"vector[0]: {length} {limit}"
        ids = [d["id"] for d in client.post("/collections/flat_l2/get", json={"limit": 100}).json()["documents"]]
        assert sorted(ids) == sorted(f"d{i}" for i in range(N))  # nothing written

        r = client.post("/collections/cos/add", json={"documents": [{"id": "big", "vector": [-x for x in big]}]})
        assert r.status_code == 201, r.text
        unit = [float(x) for x in _float64_unit(rows[5:6])[0]]
        for _ in range(2):
            hits = client.post("/collections/cos/search", json={"vector": [-x for x in unit], "k": 1}).json()["hits"]
            assert hits[0]["id"] == "big" and hits[0]["score"] == pytest.approx(1.0, abs=1e-5)
            want = client.post("/collections/cos/search", json={"vector": unit, "k": 4}).json()["hits"]
            got = client.post("/collections/cos/search", json={"vector": big, "k": 4}).json()["hits"]
            assert [h["id"] for h in got] == [h["id"] for h in want] and want[0]["id"] == "d5"
            assert got[0]["score"] == pytest.approx(1.0, abs=1e-5)
