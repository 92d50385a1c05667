"""2-D projections and maps: PCA agrees with scikit-learn, UMAP and t-SNE keep two
unlike sources (real MiniLM embeddings) apart, projections come back from the cache
until the rows or the store change, a map is a WebGL plotly page with hover text
and cluster labels plus a PNG, 100,000 points render, and bad input writes nothing."""

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsClassifier

import embkit
from embkit.analysis import coordinates as project

from corpora import two_sources  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def corpus(minilm):
    texts, sources = two_sources(150)
    return texts, sources, minilm.encode(texts)


def make(root: Path, corpus) -> embkit.Collection:
    texts, sources, vectors = corpus
    col = embkit.create(root, model="minilm")
    col.add(texts, ids=[f"d{i}" for i in range(len(texts))], vectors=vectors,
            metadatas=[{"source": s, "length": len(t)} for s, t in zip(sources, texts)])
    return col


def figure(path: Path) -> tuple[list[dict], dict]:
    """(traces, layout) of the plotly figure on a written page."""
    page = path.read_text(encoding="utf-8")
    assert "<script src=" not in page and "window.Plotly" in page  # plotly.js embedded: opens offline
    call = page[page.rindex("Plotly.newPlot("):]
    decoder = json.JSONDecoder()
    data, end = decoder.raw_decode(call, call.index("["))
    layout, _ = decoder.raw_decode(call, call.index("{", end))
    return data, layout


def cache_files(col) -> list[str]:
    return sorted(p.name for p in (col.path / "analysis" / "projections").glob("*.npz"))


def test_pca_matches_sklearn_and_comes_back_from_the_cache(tmp_path, corpus, monkeypatch):
    col = make(tmp_path / "c", corpus)
    first = col.project("pca")
    reference = PCA(n_components=2).fit_transform(corpus[2])
    signs = np.sign((first.xy * reference).sum(axis=0))  # a component's sign is arbitrary
    np.testing.assert_allclose(first.xy * signs, reference, atol=1e-4)
    assert first.ids == [f"d{i}" for i in range(300)] and first.xy.dtype == np.float32
    assert first.notes == ["PCA to 2-D, seed 0"] and len(cache_files(col)) == 1

    def refuse(*args, **kwargs):
        raise AssertionError("recomputed instead of read from the cache")

    monkeypatch.setattr(project, "_reduce", refuse)
    again = col.project("pca")
    assert again.ids == first.ids and np.array_equal(again.xy, first.xy)
    assert again.notes == ["PCA to 2-D, seed 0", "projection loaded from cache"]
    col.add(["one more note about bank cards"], ids=["extra"])  # a new generation: the cache no longer fits
    with pytest.raises(AssertionError, match="recomputed"):
        col.project("pca")
    monkeypatch.undo()
    fresh = col.project("pca")
    assert len(fresh.ids) == 301 and fresh.ids[-1] == "extra"
    generation = col.info()["generation"]
    assert [name.split("-")[1] for name in cache_files(col)] == [f"g{generation}"]  # older ones removed


def test_cache_follows_the_rows_a_filter_selects(tmp_path, corpus):
    col = make(tmp_path / "c", corpus)
    col.cluster(k=2)
    before = col.project("pca", where={"cluster": 0})
    col.cluster(k=3)  # metadata only: the generation stays, the rows selected change
    after = col.project("pca", where={"cluster": 0})
    assert after.ids == [d.id for d in col.get(where={"cluster": 0})] != before.ids
    assert "projection loaded from cache" not in after.notes


@pytest.mark.parametrize("method", ["umap", "tsne"])
def test_umap_and_tsne_keep_sources_apart(tmp_path, corpus, method, monkeypatch):
    monkeypatch.setattr(project, "LARGE", 100)  # take the large-collection path: PCA to 50 first
    col = make(tmp_path / "c", corpus)
    result = col.project(method, seed=0)
    name = {"umap": "UMAP", "tsne": "t-SNE"}[method]
    assert result.notes == [f"reduced 384 → 50 dimensions with PCA before {name} (300 points)",
                            f"{name} to 2-D, seed 0"]
    assert result.xy.shape == (300, 2) and np.isfinite(result.xy).all()
    sources = np.array(corpus[1])
    knn = KNeighborsClassifier(n_neighbors=6).fit(result.xy, sources)  # each point's 5 neighbours, itself aside
    neighbours = knn.kneighbors(result.xy, return_distance=False)[:, 1:]
    agree = (sources[neighbours] == sources[:, None]).mean()
    assert agree >= 0.95, agree


def test_map_has_webgl_points_hover_text_cluster_labels_and_png(tmp_path, corpus):
    col = make(tmp_path / "c", corpus)
    clustering = col.cluster(k=2)
    out = tmp_path / "maps" / "clusters.html"
    result = col.map(out, method="pca")
    assert result == {"html": str(out), "png": str(out.with_suffix(".png")), "points": 300, "method": "pca",
                      "color_by": "cluster", "unit": "document", "notes": ["PCA to 2-D, seed 0"]}
    data, layout = figure(out)
    labels = [f"{c.id}: {', '.join(c.terms[:3])}" for c in clustering.clusters]
    assert [t["type"] for t in data] == ["scattergl", "scattergl"] and [t["name"] for t in data] == labels
    assert [a["text"] for a in layout["annotations"]] == labels  # each cluster labelled at its centre
    assert [len(t["text"]) for t in data] == [c.size for c in clustering.clusters]
    hover = next(h for t in data for h in t["text"] if h.startswith("<b>d0</b>"))
    assert corpus[0][0][:40] in hover.replace("<br>", " ") and "<br>source: scifact<br>" in hover
    png = out.with_suffix(".png")
    assert png.read_bytes().startswith(PNG_MAGIC)
    import matplotlib.image

    assert matplotlib.image.imread(png).shape == (960, 1200, 4)


def test_map_colors_by_category_and_number(tmp_path, corpus):
    col = make(tmp_path / "c", corpus)
    col.map(tmp_path / "source.html", method="pca", color_by="source")
    data, layout = figure(tmp_path / "source.html")
    assert sorted(t["name"] for t in data) == ["banking77", "scifact"] and "annotations" not in layout
    assert all(len(t["text"]) == 150 for t in data)
    col.merge_metadata({"d0": {"length": None}})
    col.map(tmp_path / "length.html", method="pca", color_by="length")  # many distinct numbers: a color scale
    (scale, missing), _ = figure(tmp_path / "length.html")
    assert scale["type"] == "scattergl" and scale["marker"]["showscale"] is True and len(scale["text"]) == 299
    assert missing["name"] == "(none)" and missing["text"][0].startswith("<b>d0</b>")


def test_map_of_100000_points(tmp_path):
    n = 100_000
    col = embkit.create(tmp_path / "big", model=None, dim=32)
    vectors = np.random.default_rng(0).normal(size=(n, 32)).astype(np.float32)
    col.add([f"note {i} in group {i % 7}" for i in range(n)], ids=[f"n{i}" for i in range(n)],
            metadatas=[{"group": i % 7} for i in range(n)], vectors=vectors)
    result = col.map(tmp_path / "big.html", method="pca", color_by="group")
    assert result["points"] == n
    data, _ = figure(tmp_path / "big.html")
    assert [t["type"] for t in data] == ["scattergl"] * 7 and [t["name"] for t in data] == [str(g) for g in range(7)]
    assert sum(len(t["text"]) for t in data) == n
    assert (tmp_path / "big.png").read_bytes().startswith(PNG_MAGIC)


BAD = [
    ({"color_by": "nope"}, "color_by: no document has the field 'nope'; pick one of: length, parent, source"),
    ({"color_by": "cluster"}, "color_by: no document has the field 'cluster'; run `embkit cluster DIR` first"),
    ({"where": {"source": "nowhere"}}, 'where: {"source": "nowhere"} matches no documents in the collection'),
    ({"method": "mds"}, "method: unknown 'mds' (allowed: umap, pca, tsne)"),
    ({"seed": "x"}, "seed: expected an integer"),
]


def test_bad_map_input_writes_nothing(tmp_path, corpus):
    col = make(tmp_path / "c", corpus)
    before = [(d.id, d.metadata) for d in col.get()]
    for options, message in BAD:
        with pytest.raises(embkit.EmbkitError) as error:
            col.map(tmp_path / "out" / "map.html", **{"method": "pca", "color_by": "source", **options})
        assert str(error.value).startswith(message)
    with pytest.raises(embkit.EmbkitError, match=r"^out: expected an \.html file name"):
        col.map(tmp_path / "out" / "map.png", method="pca")
    assert not (tmp_path / "out").exists() and not (col.path / "analysis").exists()
    assert [(d.id, d.metadata) for d in col.get()] == before
