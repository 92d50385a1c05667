"""Clustering on real MiniLM embeddings of two unlike sources (the start of SciFact
abstracts, BANKING77 queries): k-means and HDBSCAN separate them, k="auto" picks by
silhouette (cross-checked with scikit-learn), c-TF-IDF names each cluster in words,
and the labels land in metadata where filters find them. Bad input changes nothing."""

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, silhouette_score

import embkit
from embkit.analysis import cluster as cluster_module, coordinates as project
from embkit.analysis.terms import ctfidf, top_terms

from corpora import two_sources  # noqa: E402

BANKING_WORDS = {"card", "account", "money", "transfer", "payment", "top", "charged", "cash"}
SCIENCE_WORDS = {"cells", "cell", "protein", "gene", "patients", "study", "human", "disease", "expression"}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def corpus(minilm):
    texts, sources = two_sources(300)
    return texts, sources, minilm.encode(texts)


def make(root: Path, corpus) -> embkit.Collection:
    texts, sources, vectors = corpus
    col = embkit.create(root, model="minilm")
    col.add(texts, ids=[f"d{i}" for i in range(len(texts))], metadatas=[{"source": s} for s in sources],
            vectors=vectors)
    return col


def labels_of(col, field: str = "cluster") -> list:
    return [d.metadata.get(field) for d in col.get([f"d{i}" for i in range(col.count())])]


@pytest.fixture(scope="module")
def clustered(tmp_path_factory, corpus):
    """A collection clustered with k=2 (seed 0), and the result."""
    col = make(tmp_path_factory.mktemp("clustered") / "c", corpus)
    return col, col.cluster(k=2, seed=0)


def test_kmeans_separates_two_sources(clustered, corpus):
    col, result = clustered
    _, sources, vectors = corpus
    stored = labels_of(col)
    assert stored == [result.labels[f"d{i}"] for i in range(600)]
    assert adjusted_rand_score(sources, stored) >= 0.9
    assert result.k == 2 and [c.id for c in result.clusters] == [0, 1] and result.noise == 0
    assert result.clusters[0].size >= result.clusters[1].size and sum(c.size for c in result.clusters) == 600
    bank = max((0, 1), key=lambda c: sum(s == "banking77" for s, lab in zip(sources, stored) if lab == c))
    assert len(set(result.clusters[bank].terms) & BANKING_WORDS) >= 3, result.clusters[bank].terms
    assert len(set(result.clusters[1 - bank].terms) & SCIENCE_WORDS) >= 3, result.clusters[1 - bank].terms
    assert not set(result.clusters[1 - bank].terms) & BANKING_WORDS
    for c in result.clusters:  # the representative is the member nearest the (normalized) centroid
        members = np.flatnonzero(np.array(stored) == c.id)
        centroid = vectors[members].mean(axis=0)
        assert c.representative == f"d{members[np.argmax(vectors[members] @ centroid)]}"
        assert c.snippet[:40] == corpus[0][int(c.representative[1:])][:40]


def test_labels_are_filterable_and_described_on_disk(clustered):
    col, result = clustered
    for c in result.clusters:
        assert col.count(where={"cluster": c.id}) == c.size
    bank = next(c.id for c in result.clusters if "card" in c.terms)
    hits = col.search("my card payment was declined", k=10, where={"cluster": bank})
    assert len(hits) == 10 and all(h.metadata["cluster"] == bank for h in hits)
    assert {h.metadata["source"] for h in hits} == {"banking77"}
    saved = json.loads((col.path / "analysis" / "cluster.json").read_text())
    assert saved["clusters"] == result.to_dict()["clusters"] and saved["k"] == 2 and saved["seed"] == 0
    assert "labels" not in saved


def test_auto_k_picks_best_silhouette_as_sklearn_scores_it(tmp_path, corpus):
    col = make(tmp_path / "c", corpus)
    result = col.cluster("auto", field="topic")
    assert sorted(result.silhouettes) == list(range(2, 25))  # 2..floor(sqrt(600))
    assert result.k == max(result.silhouettes, key=result.silhouettes.get) == 2
    stored = labels_of(col, "topic")
    reference = silhouette_score(corpus[2], stored, metric="cosine")
    assert result.silhouettes[2] == pytest.approx(reference, abs=1e-4)
    assert adjusted_rand_score(corpus[1], stored) >= 0.9
    assert result.notes[0].startswith("k = 2 chosen by silhouette (cosine) among k = 2..24 on 600 points")
    sampled = col.cluster("auto", field="topic", sample=200)
    assert "on 200 sampled points" in sampled.notes[0] and sorted(sampled.silhouettes) == list(range(2, 25))


def test_same_seed_same_clusters_and_reclustering_replaces(tmp_path, corpus):
    col = make(tmp_path / "c", corpus)
    first = col.cluster(k=4, seed=3).labels
    assert col.cluster(k=4, seed=3).labels == first
    col.cluster(k=2)
    assert col.count(where={"cluster": {"$in": [0, 1]}}) == 600 and col.count(where={"cluster": 3}) == 0
    sliced = col.cluster(k=2, where={"source": "banking77"})
    assert sliced.documents == 300 and set(sliced.labels) == {f"d{i}" for i in range(300, 600)}
    assert col.count(where={"cluster": {"$in": [0, 1]}}) == 300  # scifact documents lost the old labels
    assert col.count(where={"source": "scifact", "cluster": {"$in": [0, 1]}}) == 0
    assert json.loads((col.path / "analysis" / "cluster.json").read_text())["where"] == {"source": "banking77"}


def assert_clusters_are_pure(result, stored: np.ndarray, sources: np.ndarray) -> None:
    """Each cluster holds one source (>= 95%), and each source has a cluster."""
    majority = set()
    for c in result.clusters[:-1]:
        members = list(sources[stored == c.id])
        top = max(set(members), key=members.count)
        assert members.count(top) / len(members) >= 0.95, (c.id, c.terms)
        majority.add(top)
    assert majority == {"scifact", "banking77"}


def test_hdbscan_separates_sources_and_keeps_noise(tmp_path, corpus, monkeypatch):
    monkeypatch.setattr(project, "LARGE", 100)  # take the large-collection path: PCA to 50 first
    col = make(tmp_path / "c", corpus)
    result = col.cluster(method="hdbscan", min_cluster_size=10)
    stored = np.array(labels_of(col))
    assert result.notes == ["reduced 384 → 50 dimensions with PCA before HDBSCAN (600 points)",
                            "HDBSCAN, min_cluster_size 10",
                            f"{result.noise} documents fit no cluster and are labelled -1 (noise)"]
    assert result.noise == int(np.sum(stored == -1)) == col.count(where={"cluster": -1})
    assert 0 < result.noise < 200 and result.k >= 2 and result.clusters[-1].id == -1
    assert_clusters_are_pure(result, stored, np.array(corpus[1]))


def test_hdbscan_above_its_limit_clusters_a_sample_and_extends_it(tmp_path, corpus, monkeypatch):
    monkeypatch.setattr(cluster_module, "HDBSCAN_MAX", 400)
    col = make(tmp_path / "c", corpus)
    result = col.cluster(method="hdbscan", min_cluster_size=10, seed=1)
    assert result.notes[1] == ("HDBSCAN ran on 400 sampled points (its cost grows with the square of the points); "
                               "the other 200 took the label of their nearest sampled neighbour")
    stored = np.array(labels_of(col))
    assert_clusters_are_pure(result, stored, np.array(corpus[1]))
    fit = np.sort(np.random.default_rng(1).choice(600, 400, False))  # the sample, as drawn with seed 1
    rest = np.setdiff1d(np.arange(600), fit)
    nearest = fit[np.argmax(corpus[2][rest] @ corpus[2][fit].T, axis=1)]  # unit vectors: max cosine = min L2
    assert np.array_equal(stored[rest], stored[nearest])
    with pytest.raises(embkit.EmbkitError, match=r"^min_cluster_size: must be at most 400 \(HDBSCAN runs on 400"):
        col.cluster(method="hdbscan", min_cluster_size=500)


BAD = [
    ({"k": 601}, "k: must be between 2 and 600 (the collection has 600 documents), got 601"),
    ({"k": 1}, "k: must be between 2 and 600"),
    ({"k": "many"}, "k: expected 'auto' or an integer, got 'many'"),
    ({"k": 301, "where": {"source": "banking77"}}, "k: must be between 2 and 300 (the selection has 300 documents)"),
    ({"where": {"source": "nowhere"}}, 'where: {"source": "nowhere"} matches no documents in the collection'),
    ({"where": {"source": {"$like": "x"}}}, "where"),
    ({"method": "spectral"}, "method: unknown 'spectral' (allowed: kmeans, hdbscan)"),
    ({"method": "hdbscan", "k": 3}, "k: hdbscan finds the number of clusters itself"),
    ({"method": "hdbscan", "k": "auto", "min_cluster_size": 601}, "min_cluster_size: must be at most 600"),
    ({"field": "a.b"}, "field: expected 1 to 64 letters"),
    # labels written to `parent` split every chunked document into loose chunks (get/delete by its id found none)
    ({"field": "parent"}, "field: 'parent' is where embkit keeps a chunk's place in its document (reserved: parent, "
                          "chunk, start, end, page, section, source, sha256); choose another name, such as 'cluster'"),
    ({"field": "sha256"}, "field: 'sha256' is where embkit keeps"),
    ({"seed": -1}, "seed: expected an integer"),
]


@pytest.mark.parametrize("options, message", BAD, ids=[m.split(":")[0] + str(i) for i, (_, m) in enumerate(BAD)])
def test_bad_input_is_refused_and_changes_nothing(clustered, options, message):
    col, _ = clustered
    before = [(d.id, d.metadata) for d in col.get()]
    description = (col.path / "analysis" / "cluster.json").read_bytes()
    with pytest.raises(embkit.EmbkitError) as error:
        col.cluster(**{"k": 2, **options})
    assert str(error.value).startswith(message)
    assert [(d.id, d.metadata) for d in col.get()] == before
    assert (col.path / "analysis" / "cluster.json").read_bytes() == description
    assert sorted(p.name for p in (col.path / "analysis").iterdir()) == ["cluster.json"]


def test_ctfidf_matches_the_formula():
    counts = np.array([[2, 0, 1], [0, 3, 1]])
    a = 3.5  # mean words per class
    expected = np.array([[2 / 3 * np.log(1 + a / 2), 0, 1 / 3 * np.log(1 + a / 2)],
                         [0, 3 / 4 * np.log(1 + a / 3), 1 / 4 * np.log(1 + a / 2)]])
    np.testing.assert_allclose(ctfidf(counts), expected, rtol=1e-12)


def test_terms_name_a_cooking_cluster_in_words():
    cooking = ["I am cooking pasta in the oven tonight", "She cooks dinner from an old recipe",
               "Bake the bread in a hot oven before cooking the sauce", "The cooked rice recipe needs garlic",
               "Cooking vegetables slowly keeps the flavour"]
    banking = ["My bank transfer failed again", "The card payment was declined by the bank",
               "How do I move money between my accounts", "Transfer money to my savings account",
               "The bank charged a fee on my card"]
    terms = top_terms(cooking + banking, np.array([0] * 5 + [1] * 5), top=4)
    assert terms[0][0] == "cooking"  # "cook", "cooks", "cooked", "cooking": one term, its usual spelling
    assert set(terms[0]) <= {"cooking", "oven", "recipe", "dinner", "bread", "rice", "pasta"}
    assert set(terms[1]) <= {"bank", "card", "money", "transfer", "account", "payment"} and "bank" in terms[1]
    assert "my" not in terms[1] and "the" not in terms[1]
