"""The plain dense search (search/plain.py) returns the general pipeline's hits for the
same request, field for field (ids, float scores, text, metadata, dense score and rank,
chunk fields), on flat and HNSW indexes, after deletes, with index knobs; and only a
request by vector with nothing but k and index knobs takes it."""

import numpy as np
import pytest

import embkit
from embkit.ingest.vectors import stored_form
from embkit.search.hit import Hit
from embkit.search.pipeline import Plan, retrieve
from embkit.search.plain import plain_search
from embkit.search.request import SearchRequest
from embkit.search.sources import StoreSources

N, DIM = 400, 8


def meta(i: int) -> dict:
    if i % 3 == 0:
        return {}
    if i % 3 == 1:
        return {"parent": f"doc{i // 10}", "source": "a.pdf", "page": i % 7, "start": i, "end": i + 5}
    return {"tag": i, "nested": {"x": [i, None]}}


@pytest.fixture(params=["flat", "hnsw:M=16,efc=100"])
def col(request, tmp_path):
    col = embkit.create(tmp_path / "c", model=None, dim=DIM)
    vectors = np.random.default_rng(1).normal(size=(N, DIM)).astype(np.float32)
    col.add(ids=[f"d{i}" for i in range(N)], vectors=vectors, metadatas=[meta(i) for i in range(N)],
            texts=[f"text {i}" for i in range(N)])
    col.build_index(request.param)
    yield col
    col.close()


def general(col, req: SearchRequest):
    """The hits of the general pipeline for a checked request."""
    parts = col._search_parts()
    q = stored_form(req.vector, parts.space.metric, "vector")
    return retrieve(req, Plan(lambda: q, None, frozenset()), StoreSources(parts, req))


def test_plain_hits_equal_the_pipelines(col):
    queries = np.random.default_rng(2).normal(size=(20, DIM)).astype(np.float32)
    col.delete(ids=[f"d{i}" for i in range(0, N, 5)])  # deleted rows never come back
    graph = col._index.current().kind == "hnsw"
    for i, q in enumerate(queries):
        options = {"k": 1 + i % 12} | ({"ef": 8 + i} if graph and i % 2 else {})
        req = SearchRequest(vector=q, **options).check(col.space)
        assert req.plain()
        plain = plain_search(req, col._search_parts())
        assert plain == general(col, req) and len(plain) == options["k"]
        assert [tuple(h) for h in plain] == [tuple(h) for h in col.search(vector=q, **options)]
        assert all(type(h.score) is float and type(h.dense_rank) is int for h in plain)
        assert not any(int(h.id[1:]) % 5 == 0 for h in plain)
    every = plain_search(SearchRequest(vector=queries[0], k=N).check(col.space), col._search_parts())
    hit = next(h for h in every if h.id == "d1")
    assert (hit.parent, hit.source, hit.page, hit.start, hit.end, hit.text) == ("doc0", "a.pdf", 1, 1, 6, "text 1")


def test_rows_naming_themselves_as_parent_equal_the_pipelines(tmp_path):
    """A document added without metadata is stored as {"parent": its id}, recognized as
    text by hits_of_rows: the same hits as the pipeline's, for ids JSON escapes (quotes,
    backslashes, non-ASCII, newlines, slashes) and rows another tool wrote, whose text only
    looks like it (the id a JSON fragment, spaces around the object)."""
    ids = ["plain", 'quo"te', "back\\slash", "naïve", "new\nline", "a/b", 'x", "source": "y', "spaced", "other"]
    col = embkit.create(tmp_path / "c", model=None, dim=DIM)
    vectors = np.random.default_rng(3).normal(size=(len(ids) + N, DIM)).astype(np.float32)
    col.add(ids=ids, vectors=vectors[:len(ids)])
    col.add(ids=[f"m{i}" for i in range(N)], vectors=vectors[len(ids):], metadatas=[meta(i) for i in range(N)])
    conn = col._store._conn
    conn.execute("""UPDATE docs SET metadata = '{"parent": "x", "source": "y"}' WHERE id = ?""", (ids[6],))
    conn.execute("""UPDATE docs SET metadata = ' {"parent": "spaced"} ' WHERE id = 'spaced'""")
    conn.execute("""UPDATE docs SET metadata = '{"parent": "plain"}' WHERE id = 'other'""")
    req = SearchRequest(vector=vectors[0], k=len(ids) + N).check(col.space)
    every = plain_search(req, col._search_parts())
    assert every == general(col, req) and [h.dense_rank for h in every] == list(range(1, len(ids) + N + 1))
    by_id = {h.id: h for h in every}
    for i in ids[:6]:
        hit = by_id[i]
        assert hit.metadata == {"parent": i} and (hit.parent, hit.text, hit.source) == (i, None, None)
        assert len(by_id[i]) == len(Hit._fields) and by_id[i].document == i
    assert (by_id[ids[6]].parent, by_id[ids[6]].source) == ("x", "y")
    assert by_id["spaced"].metadata == {"parent": "spaced"} and by_id["other"].parent == "plain"
    by_id["plain"].metadata["x"] = 1  # each hit's own dict: the next search's is untouched
    assert next(h for h in plain_search(req, col._search_parts()) if h.id == "plain").metadata == {"parent": "plain"}
    col.close()


def test_only_plain_requests_take_the_short_path():
    v = np.ones(DIM, np.float32)
    assert SearchRequest(vector=v, k=3, ef=20, nprobe=2, rescore=2, space="s", model="none").plain()
    assert SearchRequest.of(None, vector=v, mode="".join(["de", "nse"]), reranker="r").plain()
    for other in ({"where": {}}, {"mmr": 0.5}, {"rerank": 5}, {"documents": True}, {"documents": 0}, {"dims": 4},
                  {"mode": "hybrid"}, {"query": "text"}, {"like": "d1"}, {"image": "a.png"}, {"alpha": 0.5}):
        assert not SearchRequest(vector=v, **other).plain()
    assert not SearchRequest(query="text").plain() and not SearchRequest(like="d1").plain()


def test_a_plain_request_is_checked_as_any_other(col):
    """The short check names the same field and limit as the full one, and equals it."""
    v = np.ones(DIM, np.float32)
    full = SearchRequest(vector=v, k=5, ef=9, documents=False).check(col.space)
    quick = SearchRequest.of(None, vector=v, k=5, ef=9).check(col.space)
    assert {**vars(quick), "vector": None} == {**vars(full), "vector": None}
    assert np.array_equal(quick.vector, full.vector) and quick.vector.shape == (1, DIM)
    assert quick.vector.dtype == np.float32
    for options, message in (({"k": 0}, "k: must be an integer from 1 to"), ({"ef": True}, "ef: must be"),
                             ({"rescore": 101}, "rescore: must be an integer from 1 to 100"),
                             ({"nprobe": 1.5}, "nprobe: must be"), ({"vector": v[:3]}, "vector: dimension 3"),
                             ({"vector": v * np.nan}, "vector[0]: contains NaN"), ({"model": "x"}, "model: space")):
        with pytest.raises(embkit.EmbkitError, match=message.replace("[", r"\[")):
            col.search(**{"vector": v, **options})
    with pytest.raises(TypeError):
        SearchRequest.of(None, vector=v, kk=3)
    with pytest.raises(TypeError):
        SearchRequest.of("text", query="again")


def test_a_query_already_in_stored_form_is_searched_as_stored_form_gives_it(tmp_path, monkeypatch):
    """The plain check tells, by stored_form's own sum, a cosine query already of unit
    length (then the search does not normalize it again): rows near the edge of that test
    (UNIT), below and above it, a strided row and a tiny one (x1e-13: measured in float64,
    not refused as a zero vector) give stored_form's query, bit for bit, and the pipeline's
    hits; stored_form is skipped only where it would return the row as it is."""
    from embkit.ingest.vectors import UNIT
    from embkit.search import plain
    from embkit.search.request import STORED_IN

    col = embkit.create(tmp_path / "c", model=None, dim=DIM)
    vectors = np.random.default_rng(4).normal(size=(N, DIM)).astype(np.float32)
    col.add(ids=[f"d{i}" for i in range(N)], vectors=vectors)
    unit = (vectors[7] / np.linalg.norm(vectors[7])).astype(np.float32)
    wide = np.zeros((DIM, 2), np.float32)
    wide[:, 0] = unit
    rows = [unit * np.float32(f) for f in (1, 1 + UNIT / 2, 1 - UNIT / 2, 1 + 4 * UNIT, 1 - 4 * UNIT, 1e-3, 1e-13, 0)]
    rows += [wide[:, 0], vectors[7]]
    calls, flagged = [], []
    real = plain.stored_form
    monkeypatch.setattr(plain, "stored_form", lambda *a: calls.append(1) or real(*a))
    for row in rows:
        req = SearchRequest.plain_of({"vector": row, "k": 12}, col.space)
        try:
            want = real(req.vector, "cosine", "vector")
        except embkit.EmbkitError:  # the zero vector's error, from the search as before
            with pytest.raises(embkit.EmbkitError, match="zero vector"):
                plain_search(req, col._search_parts())
            continue
        as_is = want is req.vector
        assert (req.__dict__[STORED_IN] is col.space) == (as_is and row.flags.c_contiguous)
        flagged.append(req.__dict__[STORED_IN] is not None)
        calls.clear()
        hits = plain_search(req, col._search_parts())
        assert calls == ([] if req.__dict__[STORED_IN] is not None else [1])
        assert hits == general(col, req) and hits[0].id == "d7"
    assert flagged.count(True) == 3 and flagged.count(False) == 6  # both ways tried (only the zero row raised)
    col.close()
