"""Outliers on real BANKING77 queries with MiniLM: planted off-topic texts rank first,
and the scores match scikit-learn's brute-force neighbours and LocalOutlierFactor."""

import csv

import numpy as np
import pytest

import embkit
from embkit.errors import EmbkitError

from corpora import DATA

PLANTED = {
    "code": "def fibonacci(n): return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)",
    "german": "Der Hund schläft den ganzen Nachmittag unter dem Küchentisch.",
    "numbers": "3.14159 2.71828 1.41421 1.73205 0.57721 1.61803",
    "sql": "SELECT name, price FROM products WHERE stock > 0 ORDER BY price;",
    "biology": "Photosynthesis converts light energy into chemical energy stored in glucose.",
}


def banking(n: int, seed: int = 0) -> list[str]:
    """`n` distinct BANKING77 test queries, sampled with a fixed seed."""
    path = DATA / "banking77" / "test.csv"
    with open(path, encoding="utf-8", newline="") as f:
        texts = list(dict.fromkeys(row["text"].strip() for row in csv.DictReader(f)))
    rng = np.random.default_rng(seed)
    return [texts[i] for i in sorted(rng.choice(len(texts), n, replace=False))]


@pytest.fixture(scope="module")
def col(tmp_path_factory, minilm):
    texts = banking(300)
    c = embkit.create(tmp_path_factory.mktemp("outliers") / "c", model="minilm")
    c._encoder = minilm
    ids = [f"b{i}" for i in range(len(texts))]
    metas = [{"source": "banking", "half": i % 2} for i in range(len(texts))]
    # the planted texts are spread through the collection, not appended at the end
    for n, (name, text) in enumerate(PLANTED.items()):
        at = 37 + 53 * n
        texts.insert(at, text), ids.insert(at, name), metas.insert(at, {"source": "planted", "half": n % 2})
    c.add(texts, ids=ids, metadatas=metas)
    yield c
    c.close()


def sklearn_knn(vectors: np.ndarray, k: int, metric: str) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    distances, _ = NearestNeighbors(n_neighbors=k, metric=metric, algorithm="brute").fit(vectors).kneighbors()
    return distances.mean(axis=1)


def test_planted_outliers_rank_first_by_knn(col):
    found = col.outliers(top=len(PLANTED), method="knn")
    assert {o.id for o in found} == set(PLANTED)
    assert found[0].score > 0.7 and all(o.text == PLANTED[o.id] for o in found)
    assert [o.score for o in found] == sorted((o.score for o in found), reverse=True)


def test_planted_outliers_rank_first_by_lof(col):
    found = col.outliers(top=len(PLANTED), method="lof", k=10)
    assert {o.id for o in found} == set(PLANTED)
    assert all(o.score > 1.5 for o in found)  # LOF is about 1 inside a cluster


def test_knn_scores_match_sklearn_brute_force(col):
    table = col.table()
    for k in (1, 10):
        ours = {o.id: o.score for o in col.outliers(top=len(table), method="knn", k=k)}
        reference = sklearn_knn(table.vectors, k, "cosine")
        assert np.allclose([ours[i] for i in table.ids], reference, atol=1e-5, rtol=0)


def test_lof_matches_sklearn_local_outlier_factor(col):
    from sklearn.neighbors import LocalOutlierFactor

    table = col.table()
    ours = {o.id: o.score for o in col.outliers(top=len(table), method="lof", k=15)}
    lof = LocalOutlierFactor(n_neighbors=15, metric="cosine", algorithm="brute").fit(table.vectors)
    assert np.allclose([ours[i] for i in table.ids], -lof.negative_outlier_factor_, atol=1e-5, rtol=0)


def test_where_slice_is_scored_on_its_own(col):
    where = {"half": 1}
    table = col.table(where)
    found = col.outliers(top=len(table), method="knn", k=5, where=where)
    assert len(found) == len(table) and all(o.metadata["half"] == 1 for o in found)
    ours = {o.id: o.score for o in found}
    assert np.allclose([ours[i] for i in table.ids], sklearn_knn(table.vectors, 5, "cosine"), atol=1e-5, rtol=0)
    assert found[0].id == "german"


def test_l2_collection_uses_euclidean_distance(tmp_path, col):
    """Precomputed vectors of varied lengths in an l2 collection: scores are Euclidean."""
    table = col.table()
    rng = np.random.default_rng(1)
    vectors = table.vectors * rng.uniform(0.5, 2.0, size=(len(table), 1)).astype(np.float32)
    with embkit.create(tmp_path / "l2", model=None, dim=384, metric="l2") as l2:
        l2.add(ids=table.ids, vectors=vectors)
        ours = {o.id: o.score for o in l2.outliers(top=len(table), k=7)}
    assert np.allclose([ours[i] for i in table.ids], sklearn_knn(vectors, 7, "euclidean"), atol=1e-4, rtol=1e-6)


def test_exact_copies_push_self_out_of_the_neighbours(tmp_path):
    """Three identical vectors with k=2: each one's neighbours are the other two
    (distance 0), whichever order the index returns the ties in."""
    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(20, 8)).astype(np.float32)
    vectors[5] = vectors[11] = vectors[17] = vectors[3]
    with embkit.create(tmp_path / "c", model=None, dim=8) as c:
        c.add(ids=[f"v{i}" for i in range(20)], vectors=vectors)
        scores = {o.id: o.score for o in c.outliers(top=20, k=2)}
    assert all(scores[i] == pytest.approx(0.0, abs=1e-6) for i in ("v3", "v5", "v11", "v17"))
    assert np.allclose([scores[f"v{i}"] for i in range(20)], sklearn_knn(vectors, 2, "cosine"), atol=1e-5)


def test_dot_over_vectors_that_are_not_unit_is_refused(tmp_path):
    with embkit.create(tmp_path / "c", model=None, dim=4, metric="dot") as c:
        c.add(ids=["a", "b", "c"], vectors=np.array([[1, 0, 0, 0], [0, 2, 0, 0], [0, 0, 3, 1]], np.float32))
        with pytest.raises(EmbkitError, match="^metric: .*'dot'"):
            c.outliers(top=1, k=1)


@pytest.mark.parametrize("kwargs, message", [
    ({"k": 305}, r"^k: must be an integer from 1 to 304 \(the collection has 305 documents\), got 305$"),
    ({"k": 0}, "^k: must be an integer from 1 to 304"),
    ({"k": 200, "where": {"half": 1}}, r"^k: .* to 151 \(the collection has 152 documents matching where\)"),
    ({"method": "zscore"}, "^method: must be one of knn, lof, got 'zscore'$"),
    ({"top": 0}, "^top: must be a positive integer"),
    ({"where": {"colour": "red"}}, "^where: .*matches no documents.*no document has the field 'colour'$"),
    ({"where": {"source": "news"}}, r'^where: \{"source": "news"\} matches no documents in the collection$'),
])
def test_bad_input_names_the_field_and_changes_nothing(col, kwargs, message):
    before = col.info()
    with pytest.raises(EmbkitError, match=message):
        col.outliers(**{"top": 5, **kwargs})
    after = col.info()
    assert (after["count"], after["generation"]) == (before["count"], before["generation"])


def test_empty_collection_is_an_error(tmp_path):
    with embkit.create(tmp_path / "c", model=None, dim=4) as c, \
            pytest.raises(EmbkitError, match="^where: the collection holds no documents$"):
        c.outliers()


def test_rows_an_approximate_index_leaves_short_are_redone_exactly(col, monkeypatch):
    """A graph index under a tight filter may pad with -1: those rows are computed
    exactly, and the scores still match brute force."""
    knn = col.knn

    def short_knn(vectors, k, allow=None):
        rowids, scores = knn(vectors, k, allow)
        rowids[::3, -2:], scores[::3, -2:] = -1, -np.inf
        return rowids, scores

    monkeypatch.setattr(col, "knn", short_knn)
    table = col.table({"half": 0})
    ours = {o.id: o.score for o in col.outliers(top=len(table), k=6, where={"half": 0})}
    assert np.allclose([ours[i] for i in table.ids], sklearn_knn(table.vectors, 6, "cosine"), atol=1e-5, rtol=0)
