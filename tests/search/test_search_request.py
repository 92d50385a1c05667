"""SearchRequest: every option checked once, in one place, with a one-line error that
names the field and its limit; the old option name `by_document` maps to `documents`."""

import warnings

import numpy as np
import pytest

import embkit
from embkit.errors import EmbkitError
from embkit.search.request import OPTIONS, SearchRequest, renamed
from embkit.store import Space

SPACE = Space("text", "minilm", 384, "cosine", True)
VECTOR = [1.0] * 384


@pytest.mark.parametrize("options, message", [
    ({}, "query: give exactly one of a query text, image=, audio=, vector= or like="),
    ({"query": "a", "like": "b"}, "query: give exactly one of"),
    ({"query": "   "}, "query: empty"),
    ({"query": "a", "k": 0}, "k: must be an integer from 1 to 10000, got 0"),
    ({"query": "a", "k": 10_001}, "k: must be an integer from 1 to 10000, got 10001"),
    ({"query": "a", "k": True}, "k: must be an integer from 1 to 10000, got True"),
    ({"query": "a", "mode": "fuzzy"}, "mode: must be one of dense, keyword, hybrid, got 'fuzzy'"),
    ({"like": "a", "mode": "keyword"}, "mode: keyword search needs a query text"),
    ({"image": "cat.png", "mode": "hybrid"}, "mode: an image query searches by meaning only"),
    ({"audio": "dog.wav", "mode": "keyword"}, "mode: an audio query searches by meaning only (mode 'dense')"),
    ({"audio": "dog.wav", "image": "cat.png"}, "query: give exactly one of"),
    ({"query": "a", "mode": "hybrid", "rrf_k": 60, "alpha": 0.5}, "alpha: give rrf_k (reciprocal rank"),
    ({"query": "a", "mode": "hybrid", "alpha": 1.5}, "alpha: must be a number from 0 to 1 (the dense weight), got 1.5"),
    ({"query": "a", "mode": "hybrid", "rrf_k": -1}, "rrf_k: must be an integer from 0 to 10000, got -1"),
    ({"query": "a", "mmr": 2}, "mmr: must be a number from 0 to 1"),
    ({"query": "a", "rerank": 5}, "reranker: rerank=N needs a cross-encoder folder"),
    ({"vector": VECTOR, "rerank": 5, "reranker": "r"}, "rerank: reranking needs a query text"),
    ({"query": "a", "rerank": 0, "reranker": "r"}, "rerank:"),
    ({"query": "a", "documents": "yes"}, "documents: expected true or false, got 'yes'"),
    ({"query": "a", "ef": 0}, "ef: must be an integer from 1 to 32768, got 0"),
    ({"query": "a", "nprobe": 1.5}, "nprobe: must be an integer from 1 to 32768, got 1.5"),
    ({"query": "a", "rescore": 101}, "rescore: must be an integer from 1 to 100, got 101"),
    ({"query": "a", "dims": 385}, "dims: must be an integer from 1 to 384 (the space's dimension), got 385"),
    ({"query": "a", "where": {"year": {"$near": 3}}}, "where.year.$near: unknown operator"),
    ({"vector": [1.0, 2.0]}, "vector"),
    ({"vector": VECTOR, "model": "glove-50d"}, "model: space 'text' holds vectors from 'minilm' (384-d); got"),
    ({"like": 5}, "like: expected a document id (a string), got int"),
])
def test_a_bad_option_is_one_line_naming_the_field(options, message):
    with pytest.raises(EmbkitError) as e:
        SearchRequest(**options).check(SPACE)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_good_request_is_normalized_once():
    checked = SearchRequest(vector=VECTOR, k=3, dims=384, ef=64, nprobe=8).check(SPACE)
    assert checked.dims is None  # the full dimension: no Matryoshka view
    assert isinstance(checked.vector, np.ndarray) and checked.vector.shape == (1, 384)
    assert checked.index_params() == {"ef": 64, "nprobe": 8}
    assert SearchRequest(query="a").check(SPACE) == SearchRequest(query="a").check(SPACE).check(SPACE)


def test_every_door_names_the_same_options():
    """The HTTP body's fields are SearchRequest's (plus the deprecated alias); the CLI
    maps each of its options onto one of them."""
    from embkit.server.schemas import Search

    assert set(Search.model_fields) - {"by_document"} == set(OPTIONS) - {"reranker"}  # the server's --reranker
    assert "documents" in OPTIONS and "by_document" not in OPTIONS


def test_by_document_is_renamed_with_a_note():
    assert renamed({"k": 3}) == ({"k": 3}, [])
    options, notes = renamed({"by_document": True, "k": 3})
    assert options == {"documents": True, "k": 3} and notes == [
        "by_document: deprecated, use documents (the old name goes in the next release)"]
    assert renamed({"by_document": True, "documents": True})[0] == {"documents": True}
    with pytest.raises(EmbkitError, match="by_document: renamed documents; give documents only"):
        renamed({"by_document": True, "documents": False})
    with pytest.warns(DeprecationWarning, match="by_document"):
        assert SearchRequest.of("q", by_document=True).documents is True


def test_a_filter_is_checked_and_warned_once_per_search(tmp_path, monkeypatch):
    """Each search reads the filter's warnings once (the HTTP route used to ask for them
    and then search, which asked again)."""
    col = embkit.create(tmp_path / "c", model=None, dim=3)
    col.add(vectors=[[1, 0, 0], [0, 1, 0]], ids=["a", "b"], metadatas=[{"year": 2020}, {"year": 2021}])
    calls = []
    store = col._store
    original = store.filter_warnings
    monkeypatch.setattr(store, "filter_warnings", lambda where: calls.append(where) or original(where))
    found = col.find(SearchRequest(vector=[1, 0, 0], k=2, where={"year": 2020, "colour": "red"}))
    assert found.hits == [] and found.warnings == ["where.colour: no document has this field"]
    assert len(calls) == 1
    col.close()


def test_python_keywords_unknown_to_the_request_are_refused(tmp_path):
    col = embkit.create(tmp_path / "c", model=None, dim=3)
    with pytest.raises(TypeError, match="colour"):
        col.search(vector=[1, 0, 0], colour="red")
    col.close()


@pytest.mark.parametrize("bad, message", [
    (np.nan, r"^vector\[0\]: contains NaN or infinity$"),
    (np.inf, r"^vector\[0\]: contains NaN or infinity$"),
    (-np.inf, r"^vector\[0\]: contains NaN or infinity$"),
])
def test_a_float32_row_with_a_nan_or_infinity_is_refused_as_any_vector_is(bad, message):
    """The plain request's quick check of a float32 row (finite when its sum of squares
    is) refuses what the general check refuses, with its message; a list too."""
    row = np.ones(384, dtype=np.float32)
    row[7] = bad
    for given in (row, row.tolist(), row.astype(np.float64)):
        with pytest.raises(EmbkitError, match=message):
            SearchRequest(vector=given).check(SPACE)


def test_a_finite_float32_row_whose_squares_overflow_is_accepted():
    """Finite values whose sum of squares passes float32's range are finite all the same:
    the quick check hands them to the general one, which accepts them, without a
    RuntimeWarning from the quick check's overflowing sum (an error under -W error)."""
    row = np.full(384, 1e20, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checked = SearchRequest(vector=row).check(SPACE)
    assert checked.vector.shape == (1, 384) and np.array_equal(checked.vector[0], row)
    wrong = np.ones(383, dtype=np.float32)
    with pytest.raises(EmbkitError, match=r"^vector: dimension 383 does not match the collection's 384"):
        SearchRequest(vector=wrong).check(SPACE)


ROW = np.linspace(-1, 1, 384).astype(np.float32)


@pytest.mark.parametrize("options", [
    {"vector": ROW}, {"vector": ROW, "k": 3, "ef": 64}, {"vector": VECTOR, "nprobe": 8, "rescore": 20},
    {"vector": ROW, "k": 0}, {"vector": ROW, "k": True}, {"vector": ROW, "ef": 0}, {"vector": ROW, "ef": True},
    {"vector": ROW, "nprobe": 1.5}, {"vector": ROW, "rescore": 101}, {"vector": ROW[:10]},
    {"vector": np.full(384, np.nan, np.float32)}, {"vector": ROW, "k": 0, "ef": 0},  # the first wrong field named
])
def test_a_plain_call_is_made_and_checked_as_the_long_way_makes_it(options):
    """`plain_of` (Collection.search's one step for a vector, k and index knobs) gives the
    request, or the error, that `of(...).check(...)` gives."""
    assert SearchRequest.plain_options(None, options)
    try:
        want = SearchRequest.of(None, **options).check(SPACE)
    except EmbkitError as e:
        with pytest.raises(EmbkitError) as got:
            SearchRequest.plain_of(options, SPACE)
        assert str(got.value) == str(e)
        return
    got = SearchRequest.plain_of(options, SPACE)
    assert got.plain() and type(got) is SearchRequest
    assert {**got.__dict__, "vector": None} == {**want.__dict__, "vector": None}
    assert np.array_equal(got.vector, want.vector) and got.vector.dtype == want.vector.dtype == np.float32


@pytest.mark.parametrize("query, options", [
    ("text", {}), (None, {"vector": None}), (None, {"vector": ROW, "where": {"a": 1}}),
    (None, {"vector": ROW, "dims": 8}),
    (None, {"vector": ROW, "space": "text"}), (None, {"vector": ROW, "model": "minilm"}), (None, {"like": "d1"}),
    (None, {"vector": ROW, "by_document": True}), (None, {"vector": ROW, "unknown": 1}),
])
def test_anything_else_goes_the_long_way(query, options):
    assert not SearchRequest.plain_options(query, options)


def test_index_params_are_the_knobs_given():
    for ef in (None, 16):
        for nprobe in (None, 4):
            given = {key: value for key, value in (("ef", ef), ("nprobe", nprobe)) if value is not None}
            assert SearchRequest(vector=VECTOR, ef=ef, nprobe=nprobe).check(SPACE).index_params() == given
