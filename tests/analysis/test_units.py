"""cluster, dedupe, outliers and maps over documents (the default) or chunks: one
vector per document, the mean of its chunks' vectors made unit length, checked
against numpy on pages stored as chunks (tests/chunked_pages.py)."""

import shutil

import numpy as np
import pytest
from sklearn.decomposition import PCA

import embkit
from embkit.analysis.units import document_table, unit_table
from embkit.errors import EmbkitError

from chunked_pages import DOCUMENTS, PAGES, build, chunk_ids

ALL_CHUNKS = [i for page in DOCUMENTS for i in chunk_ids(page)]


@pytest.fixture(scope="module")
def built(tmp_path_factory, minilm):
    folder = tmp_path_factory.mktemp("units") / "pages"
    build(folder, minilm)
    return folder


@pytest.fixture
def col(built, tmp_path, minilm):
    """A private copy (the tests delete and write labels)."""
    shutil.copytree(built, tmp_path / "c")
    with embkit.open(tmp_path / "c") as c:
        c._encoder = minilm
        yield c


def reference_vectors(col) -> np.ndarray:
    """Each document's vector by hand: the unit-length mean of its chunks'."""
    out = []
    for page in DOCUMENTS:
        chunks = np.stack([d.vector for d in col.get(chunk_ids(page), include_vectors=True)])
        mean = chunks.astype(np.float64).mean(axis=0)
        out.append(mean / np.linalg.norm(mean))
    return np.array(out)


def test_a_documents_vector_is_the_unit_mean_of_its_chunks(col):
    table = unit_table(col, None, "document")
    assert table.ids == DOCUMENTS and not table.single
    np.testing.assert_allclose(table.vectors, reference_vectors(col), atol=1e-6)
    weather = col.get(["weather"], include_vectors=True)[0]
    assert "parent" not in weather.metadata  # a record without `parent` is its own document
    weather = weather.vector
    np.testing.assert_allclose(table.vectors[DOCUMENTS.index("weather")], weather, atol=1e-6)
    assert table.texts[0] == PAGES["setup"][0] and table.metadatas[0]["chunk"] == 0
    assert table.owner.tolist() == [DOCUMENTS.index(i.split("#")[0]) for i in ALL_CHUNKS]


def test_chunks_out_of_order_still_make_one_document_led_by_chunk_0(tmp_path):
    """Rows need not come in chunk order: the document starts at its first row, its
    text and metadata are chunk 0's, and free-length vectors (l2) keep the plain mean."""
    vectors = np.array([[3, 0], [0, 1], [1, 1]], np.float32)
    with embkit.create(tmp_path / "c", model=None, dim=2, metric="l2") as c:
        c.add(ids=["d#1", "e", "d#0"], vectors=vectors, texts=["second", "alone", "first"],
              metadatas=[{"parent": "d", "chunk": 1}, {}, {"parent": "d", "chunk": 0}])
        table = document_table(c.table())
    assert table.ids == ["d", "e"] and table.texts == ["first", "alone"]
    np.testing.assert_allclose(table.vectors, [[2.0, 0.5], [0.0, 1.0]])


def test_document_dedupe_deletes_the_whole_later_copy(col):
    report = col.dedupe(delete=True)
    assert [g.ids for g in report.groups] == [["setup", "setup-copy"]]
    assert report.groups[0].lengths == [sum(map(len, PAGES["setup"]))] * 2
    assert (report.keep, report.delete, report.deleted, report.chunks) == (["setup"], ["setup-copy"], 1, 3)
    assert [d.id for d in col.get()] == [i for i in ALL_CHUNKS if not i.startswith("setup-copy")]


def test_chunk_dedupe_keeps_comparing_chunks(col):
    report = col.dedupe(unit="chunk")
    assert [g.ids for g in report.groups] == [["setup#0", "setup-copy#0"], ["setup#1", "setup-copy#1"],
                                              ["setup#2", "setup-copy#2"], ["garden#1", "faq#1"]]
    assert report.delete == ["setup-copy#0", "setup-copy#1", "setup-copy#2", "faq#1"] and report.deleted == 0
    assert col.dedupe(unit="chunk", delete=True).deleted == 4
    assert col.count() == len(ALL_CHUNKS) - 4


def test_cluster_gives_every_chunk_of_a_document_its_documents_label(col):
    result = col.cluster(k=3, seed=0)
    assert (result.unit, result.documents, sorted(result.labels)) == ("document", 6, sorted(DOCUMENTS))
    assert sum(c.size for c in result.clusters) == 6
    assert result.labels["setup"] == result.labels["setup-copy"]
    stored = {d.id: d.metadata["cluster"] for d in col.get()}
    assert stored == {i: result.labels[i.split("#")[0]] for i in ALL_CHUNKS}
    assert {c.representative for c in result.clusters} <= set(DOCUMENTS)


def test_cluster_of_a_slice_labels_whole_documents(col):
    """A slice that takes only some of a document's chunks still labels all of them."""
    result = col.cluster(k=2, where={"chunk": {"$lte": 1}})
    assert result.documents == 5  # weather has no `chunk` field
    stored = {d.id: d.metadata.get("cluster") for d in col.get()}
    assert stored["faq#2"] == stored["faq#0"] == result.labels["faq"] and stored["weather"] is None


def test_chunk_clusters_count_chunks(col):
    result = col.cluster(k=3, unit="chunk")
    assert result.documents == len(ALL_CHUNKS) and sorted(result.labels) == sorted(ALL_CHUNKS)


def test_outliers_rank_documents_by_their_mean_vectors(col):
    found = col.outliers(top=6, k=2)
    vectors = reference_vectors(col)
    distances = 1.0 - vectors @ vectors.T
    np.fill_diagonal(distances, np.inf)
    expected = np.sort(distances, axis=1)[:, :2].mean(axis=1)
    assert sorted(o.id for o in found) == sorted(DOCUMENTS)
    np.testing.assert_allclose([o.score for o in found], [expected[DOCUMENTS.index(o.id)] for o in found], atol=1e-5)
    assert [o.score for o in found] == sorted((o.score for o in found), reverse=True)
    assert {o.id for o in col.outliers(top=20, k=2, unit="chunk")} == set(ALL_CHUNKS)


def test_project_and_map_draw_one_point_per_document(col, tmp_path):
    projection = col.project("pca")
    assert projection.ids == DOCUMENTS
    expected = PCA(n_components=2, random_state=0).fit_transform(reference_vectors(col).astype(np.float32))
    np.testing.assert_allclose(np.abs(projection.xy), np.abs(expected), atol=1e-4)
    assert col.project("pca").ids == DOCUMENTS  # from the cache
    assert col.project("pca", unit="chunk").ids == ALL_CHUNKS
    result = col.map(tmp_path / "m.html", "pca", color_by=None)
    assert (result["points"], result["unit"]) == (6, "document")
    assert "Setup" in (tmp_path / "m.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("verb", ["cluster", "outliers", "duplicates", "dedupe", "project"])
def test_an_unknown_unit_is_refused_before_anything_is_written(col, verb):
    before = [(d.id, d.metadata) for d in col.get()]
    with pytest.raises(EmbkitError, match=r"^unit: must be one of document, chunk, got 'page'$"):
        getattr(col, verb)(unit="page")
    assert [(d.id, d.metadata) for d in col.get()] == before
