"""Drift on real text with MiniLM: two random halves of BANKING77 look alike (large
p-value), BANKING77 against STS-B sentences does not (tiny p-value, larger shift),
and the MMD matches a direct computation from its definition."""

import csv

import numpy as np
import pytest
from scipy.spatial.distance import cdist, pdist

import embkit
from embkit.analysis.drift import mmd_test, rbf_kernel
from embkit.errors import EmbkitError

from corpora import DATA


@pytest.fixture(scope="module")
def texts(stsb_sentences):
    path = DATA / "banking77" / "test.csv"
    with open(path, encoding="utf-8", newline="") as f:
        bank = list(dict.fromkeys(r["text"] for r in csv.DictReader(f)))
    sts = list(dict.fromkeys(stsb_sentences))
    rng = np.random.default_rng(0)
    return [bank[i] for i in rng.choice(len(bank), 400, replace=False)], \
        [sts[i] for i in rng.choice(len(sts), 200, replace=False)]


@pytest.fixture(scope="module")
def col(tmp_path_factory, minilm, texts):
    """400 banking queries (randomly split into halves 0 and 1) and 200 STS-B sentences."""
    bank, sts = texts
    halves = np.random.default_rng(1).permutation(np.arange(400) % 2)
    c = embkit.create(tmp_path_factory.mktemp("drift") / "c", model="minilm")
    c._encoder = minilm
    c.add(bank + sts, ids=[f"d{i}" for i in range(600)],
          metadatas=[{"source": "banking", "half": int(h)} for h in halves] + [{"source": "stsb"}] * 200)
    yield c
    c.close()


def direct_mmd2(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Unbiased MMD² with an RBF kernel, σ = median pairwise distance, straight from
    the definition (Gretton et al. 2012, eq. 3)."""
    sigma = float(np.median(pdist(np.concatenate([x, y]))))

    def k(a, b):
        return np.exp(-cdist(a, b, "sqeuclidean") / (2 * sigma**2))

    m, n = len(x), len(y)
    kxx, kyy = k(x, x), k(y, y)
    xx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    yy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return xx + yy - 2 * k(x, y).mean(), sigma


def test_two_halves_of_one_source_do_not_drift(col):
    report = col.drift(where={"half": 0}, other_where={"half": 1}, permutations=200)
    assert (report.n_a, report.n_b) == (200, 200)
    assert report.p_value > 0.05
    assert max(abs(c.change) for c in report.cluster_shares) < 0.1


def test_the_permutation_test_is_calibrated(col):
    """Under no drift p is uniform: over 20 random halvings, few fall below 0.05."""
    vectors = col.table({"source": "banking"}).vectors.astype(np.float64)
    p_values = []
    for seed in range(20):
        half = np.random.default_rng(100 + seed).permutation(np.arange(len(vectors)) % 2)
        observed, null, _ = mmd_test(vectors[half == 0], vectors[half == 1], 200, np.random.default_rng(seed))
        p_values.append((1 + (null >= observed).sum()) / 201)
    assert sum(p < 0.05 for p in p_values) <= 3
    assert 0.2 < np.median(p_values) < 0.8


def test_another_source_drifts(col):
    same = col.drift(where={"half": 0}, other_where={"half": 1})
    other = col.drift(where={"half": 0}, other_where={"source": "stsb"})
    assert other.p_value < 0.01 and other.p_value == pytest.approx(1 / 201)
    assert other.centroid_shift > 10 * same.centroid_shift and other.mmd > 10 * same.mmd
    # some clusters hold STS-B sentences and hardly any banking queries, or the reverse
    assert max(abs(c.change) for c in other.cluster_shares) > 0.3


def test_mmd_matches_the_definition(col):
    a, b = col.table({"half": 0}), col.table({"source": "stsb"})
    report = col.drift(where={"half": 0}, other_where={"source": "stsb"}, permutations=20)
    mmd, sigma = direct_mmd2(a.vectors.astype(np.float64), b.vectors.astype(np.float64))
    assert report.bandwidth == pytest.approx(sigma, rel=1e-6)
    assert report.mmd == pytest.approx(mmd, abs=1e-8)
    kernel, sigma2 = rbf_kernel(np.concatenate([a.vectors, b.vectors]).astype(np.float64))
    assert sigma2 == pytest.approx(sigma, rel=1e-9) and np.allclose(np.diag(kernel), 1.0)


def test_p_value_and_centroids_follow_their_definitions(col):
    report = col.drift(where={"half": 0}, other_where={"half": 1}, permutations=50, seed=3)
    assert len(report.null) == 50
    assert report.p_value == (1 + (report.null >= report.mmd).sum()) / 51
    a, b = col.table({"half": 0}).vectors.mean(axis=0), col.table({"half": 1}).vectors.mean(axis=0)
    cos = float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    assert report.centroid_cosine == pytest.approx(cos, abs=1e-6)
    assert report.centroid_shift == pytest.approx(1 - cos, abs=1e-6)


def test_cluster_shares_add_up_and_name_an_example(col):
    report = col.drift(where={"source": "banking"}, other_where={"source": "stsb"}, clusters=5)
    shares = report.cluster_shares
    assert [c.cluster for c in shares] == list(range(5))
    assert sum(c.share_a for c in shares) == pytest.approx(1) and sum(c.share_b for c in shares) == pytest.approx(1)
    assert all(c.change == pytest.approx(c.share_b - c.share_a) for c in shares)
    texts = set(col.table().texts)
    assert all(c.example in texts for c in shares)


def test_sampling_is_seeded(col):
    one = col.drift(where={"source": "banking"}, other_where={"source": "stsb"}, sample=100, permutations=30, seed=5)
    two = col.drift(where={"source": "banking"}, other_where={"source": "stsb"}, sample=100, permutations=30, seed=5)
    assert one.mmd == two.mmd and np.array_equal(one.null, two.null) and one.to_dict() == two.to_dict()
    assert (one.n_a, one.n_b) == (400, 200)  # counts are of the slices, not the samples


def test_another_collection_and_a_plot(tmp_path, col):
    table = col.table({"source": "stsb"})
    with embkit.create(tmp_path / "b", model="minilm") as other:
        other.add(table.texts, ids=table.ids, vectors=table.vectors)
        report = col.drift(other, where={"half": 0}, plot=tmp_path / "plots" / "drift.png")
    reference = col.drift(where={"half": 0}, other_where={"source": "stsb"})
    assert report.mmd == pytest.approx(reference.mmd, abs=1e-9)
    assert report.p_value == reference.p_value
    png = (tmp_path / "plots" / "drift.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert report.plot == str(tmp_path / "plots" / "drift.png")
    assert "null" not in report.to_dict()


def test_vectors_of_another_model_are_refused(tmp_path, col):
    with embkit.create(tmp_path / "glove", model=None, dim=50) as other:
        other.add(ids=["a", "b"], vectors=np.eye(2, 50, dtype=np.float32))
        with pytest.raises(EmbkitError, match=r"^other: glove holds 'none' vectors \(50-d\) and c holds 'minilm' "
                                              r"\(384-d\); vectors from different models cannot be compared$"):
            col.drift(other)


@pytest.mark.parametrize("kwargs, message", [
    ({"where": {"half": 0}}, "^other_where: give another collection, or other_where"),
    ({"where": {"half": 7}, "other_where": {"half": 1}}, r'^where: \{"half": 7\} matches no documents in A \(c\)$'),
    ({"where": {"half": 0}, "other_where": {"lang": "de"}},
     r"^other_where: .* matches no documents in B \(c\); no document has the field 'lang'$"),
    ({"where": {"half": 0}, "other_where": {"$and": [{"source": "stsb"}, {"half": 1}]}}, "^other_where: .*matches no"),
    ({"where": {"half": 0}, "other_where": {"half": 1}, "clusters": 0}, "^clusters: must be an integer from 1"),
    ({"where": {"half": 0}, "other_where": {"half": 1}, "clusters": 401}, r"^clusters: must be at most 400"),
    ({"where": {"half": 0}, "other_where": {"half": 1}, "permutations": 0}, "^permutations: must be an integer"),
    ({"where": {"half": 0}, "other_where": {"half": 1}, "sample": 1}, "^sample: must be an integer from 2"),
])
def test_bad_input_names_the_field(col, kwargs, message):
    with pytest.raises(EmbkitError, match=message):
        col.drift(**kwargs)


def test_a_slice_of_one_document_is_refused(tmp_path):
    with embkit.create(tmp_path / "c", model=None, dim=3) as c:
        c.add(ids=["a", "b", "c"], vectors=np.eye(3, dtype=np.float32), metadatas=[{"g": 1}, {"g": 1}, {"g": 2}])
        with pytest.raises(EmbkitError, match=r"^other_where: B \(c\) needs at least 2 documents to compare, has 1$"):
            c.drift(where={"g": 1}, other_where={"g": 2})
