"""One search, three doors: the same SearchRequest through Python, the CLI (`embkit
search --json`) and HTTP (a real `embkit serve`) gives the same hits (ids, documents,
scores within 1e-6) in the same shape, for every search option."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import embkit
from embkit.cli import app
from embkit.errors import EmbkitError, EmbkitWarning

from hit_lists import assert_same_hits
from live_server import LiveServer

TOPICS = {
    "gzip": "Gzip compresses files with the deflate algorithm and writes a .gz archive next to them.",
    "tar": "Tar bundles many files and folders into one archive before it is compressed.",
    "bread": "Knead the dough, let the bread rise for an hour, then bake it until golden.",
    "soup": "A tomato soup simmers slowly with garlic, basil and a little olive oil.",
    "moon": "The moon orbits the earth every twenty-seven days and turns the tides.",
    "mars": "Rovers on Mars search the old river beds for signs of ancient water.",
}
# Long documents the model cannot read at once: stored as chunks guide#0, guide#1, ...
GUIDES = {
    "compression-guide": " ".join(f"Section {i}: compressing files with gzip, bzip2 and xz trades speed for size; "
                                  f"archives keep folders together and checksums catch damaged copies."
                                  for i in range(40)),
    "baking-guide": " ".join(f"Step {i}: bread dough needs flour, water, salt and yeast; knead it, let it rise, "
                             f"shape the loaf and bake it in a hot oven until the crust is brown."
                             for i in range(40)),
}
META = {"gzip": {"topic": "code", "year": 2020}, "tar": {"topic": "code", "year": 2018},
        "bread": {"topic": "food", "year": 2021}, "soup": {"topic": "food", "year": 2019},
        "moon": {"topic": "space", "year": 2022}, "mars": {"topic": "space", "year": 2023},
        "compression-guide": {"topic": "code", "year": 2024}, "baking-guide": {"topic": "food", "year": 2024}}

# Each option as Python keywords; the CLI arguments and the HTTP body are made from them.
CASES = {
    "dense": {"query": "how do I make a file smaller", "k": 6},
    "keyword": {"query": "bread dough", "k": 5, "mode": "keyword"},
    "hybrid-rrf": {"query": "compress an archive", "k": 6, "mode": "hybrid", "rrf_k": 60},
    "hybrid-alpha": {"query": "compress an archive", "k": 6, "mode": "hybrid", "alpha": 0.3},
    "mmr": {"query": "compressing files", "k": 4, "mmr": 0.4},
    "documents": {"query": "compressing files with gzip", "k": 4, "documents": True},
    "where": {"query": "baking", "k": 5, "where": {"topic": {"$in": ["food", "space"]}, "year": {"$gte": 2020}}},
    "like-document": {"like": "compression-guide", "k": 4},
    "like-record": {"like": "bread", "k": 3},
    "dims": {"query": "planets and water", "k": 4, "dims": 128},
    "keyword-documents": {"query": "gzip", "k": 3, "mode": "keyword", "documents": True},
}
CLI_FLAGS = {"k": "-k", "mode": "--mode", "rrf_k": "--rrf-k", "alpha": "--alpha", "mmr": "--mmr", "like": "--like",
             "dims": "--dims", "where": "--where"}


def cli_args(options: dict) -> list[str]:
    args = [options["query"]] if "query" in options else []
    for key, value in options.items():
        if key == "documents":
            args.append("--documents")
        elif key != "query":
            args += [CLI_FLAGS[key], json.dumps(value) if key == "where" else str(value)]
    return args


@pytest.fixture(scope="module")
def doors(tmp_path_factory, minilm):
    """(Python collection, CLI runner, HTTP client) over one collection folder."""
    root = tmp_path_factory.mktemp("parity")
    path = root / "docs"
    with embkit.create(path) as col:
        texts = {**TOPICS, **GUIDES}
        col.add(list(texts.values()), ids=list(texts), metadatas=[META[i] for i in texts])
        assert col.count() > len(texts)  # the guides were chunked
    live = LiveServer([str(path), "--no-auth"], root / "server.log")
    try:
        with embkit.open(path) as col, live.client() as http:
            yield col, path, http
    finally:
        assert live.stop() == 0


def cli_search(path, options: dict) -> dict:
    done = CliRunner().invoke(app, ["search", str(path), *cli_args(options), "--json"])
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


@pytest.mark.parametrize("name", list(CASES))
def test_python_cli_and_http_give_the_same_hits(doors, name):
    col, path, http = doors
    options = dict(CASES[name])
    hits = col.search(options.pop("query", None), **options)
    assert hits, name
    expected = [h.to_dict() for h in hits]
    by_cli = cli_search(path, CASES[name])
    response = http.post("/collections/docs/search", json=CASES[name])
    assert response.status_code == 200, response.text
    by_http = response.json()
    assert set(by_cli) == set(by_http) == {"hits", "took_ms"}  # one shape; no warnings to give here
    assert_same_hits(expected, by_cli["hits"])
    assert_same_hits(expected, by_http["hits"])


def test_documents_returns_one_hit_per_document_and_names_it(doors):
    col, _, _ = doors
    chunks = col.search("compressing files with gzip", k=10)
    best = col.search("compressing files with gzip", k=10, documents=True)
    assert [h.document for h in chunks].count("compression-guide") > 1
    assert len({h.document for h in best}) == len(best)
    firsts: dict[str, str] = {}  # each document's best chunk, in the order of the chunk ranking
    for h in chunks:
        firsts.setdefault(h.document, h.id)
    assert [h.id for h in best][:len(firsts)] == list(firsts.values())
    guide = next(h for h in best if h.document == "compression-guide")
    assert guide.id.startswith("compression-guide#") and guide.to_dict()["document"] == "compression-guide"
    assert next(h for h in best if h.id == "gzip").document == "gzip"


def test_the_old_name_by_document_still_works_with_a_warning(doors):
    col, path, http = doors
    new = [h.to_dict() for h in col.search("compressing files", k=4, documents=True)]
    with pytest.warns(DeprecationWarning, match="by_document: deprecated, use documents"):
        old = [h.to_dict() for h in col.search("compressing files", k=4, by_document=True)]
    assert_same_hits(new, old)
    r = http.post("/collections/docs/search", json={"query": "compressing files", "k": 4, "by_document": True})
    assert r.status_code == 200, r.text
    assert r.json()["warnings"] == ["by_document: deprecated, use documents (the old name goes in the next release)"]
    assert_same_hits(new, r.json()["hits"])
    clash = http.post("/collections/docs/search", json={"query": "x", "by_document": True, "documents": False})
    assert clash.status_code == 422 and "by_document: renamed documents; give documents only" in clash.text


def test_a_vector_from_another_model_is_refused_in_python_and_both_http_paths(doors):
    """`model` names where a given vector came from; the fast path and the route both
    check it (the fast path once answered without looking)."""
    col, _, http = doors
    vector = col.embed(["gzip"])[0].tolist()
    message = "model: space 'text' holds vectors from 'minilm'"
    with pytest.raises(EmbkitError, match=message):
        col.search(vector=vector, model="glove-50d", k=2)
    for body in ({"vector": vector, "model": "glove-50d", "k": 2},  # cheap: the fast path's kind
                 {"vector": vector, "model": "glove-50d", "k": 2, "mmr": 0.5}):  # the route's
        r = http.post("/collections/docs/search", json=body)
        assert r.status_code == 422 and r.json()["error"]["message"].startswith(message), r.text
    ok = http.post("/collections/docs/search", json={"vector": vector, "model": "minilm", "k": 2})
    assert ok.status_code == 200 and ok.json()["hits"][0]["id"] == "gzip"


def test_a_filter_warning_reaches_every_door_in_the_same_shape(doors):
    col, path, http = doors
    options = {"query": "baking", "k": 3, "where": {"colour": "red"}}
    with pytest.warns(EmbkitWarning, match="where.colour: no document has this field"):
        assert col.search("baking", k=3, where={"colour": "red"}) == []
    by_cli = cli_search(path, options)
    by_http = http.post("/collections/docs/search", json=options).json()
    assert by_cli["hits"] == by_http["hits"] == []
    assert by_cli["warnings"] == by_http["warnings"] == ["where.colour: no document has this field"]


def test_scores_match_a_numpy_reference(doors, minilm):
    """The parity above is not three copies of one mistake: dense scores are cosines."""
    col, _, _ = doors
    hits = col.search("how do I make a file smaller", k=3)
    stored = {d.id: d.vector for d in col.get([h.id for h in hits], include_vectors=True)}
    query = minilm.encode(["how do I make a file smaller"])[0]
    np.testing.assert_allclose([h.score for h in hits], [float(stored[h.id] @ query) for h in hits], atol=1e-5)
