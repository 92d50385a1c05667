"""A filter naming a field no document has, or a value type that never occurs in that
field, still runs, and says so: an EmbkitWarning in Python (both backends), a
`warning: ...` line on the CLI's stderr, a "warnings" list over HTTP; the same text
through every door. Dotted paths are checked as the filter reads them (nested objects)."""

import json
import warnings

import httpx
import numpy as np
import pytest

import embkit
from embkit import EmbkitError, EmbkitWarning

from live_server import LiveServer, embkit_cli

DIM = 4
DOCS = {
    "d0": {"title": "Setup guide", "year": 2021, "meta": {"lang": "en"}},
    "d1": {"title": "FAQ", "year": 2020, "meta": {"lang": "de", "draft": True}},
    "d2": {"title": "Notes", "meta": 5},
}
NO_FIELD = "where.{}: no document has this field"
NO_TYPE = "where.{}: no document has a {} value in this field"

# (filter, ids it matches, the warnings it gives)
CASES = [
    ({"titel": "FAQ"}, set(), [NO_FIELD.format("titel")]),
    ({"year": "2021"}, set(), [NO_TYPE.format("year", "string")]),
    ({"year": {"$in": [2020, "x"]}}, {"d1"}, [NO_TYPE.format("year", "string")]),
    ({"meta.langs": {"$contains": "e"}}, set(), [NO_FIELD.format("meta.langs")]),
    ({"meta.draft": 1}, set(), [NO_TYPE.format("meta.draft", "number")]),
    ({"meta": {"$prefix": ""}}, set(), [NO_TYPE.format("meta", "string")]),
    ({"title": {"$gt": 1}, "year": True}, set(), [NO_TYPE.format("title", "number"),
                                                 NO_TYPE.format("year", "boolean")]),
    # a null operand also matches a missing field: only the field itself is checked
    ({"$or": [{"year": {"$gte": 2021}}, {"author": None}]}, {"d0", "d1", "d2"}, [NO_FIELD.format("author")]),
    ({"meta.draft": {"$ne": None}}, {"d1"}, []),
    # what documents have: no warning
    ({"meta.lang": {"$prefix": "e"}}, {"d0"}, []),
    ({"meta.draft": True}, {"d1"}, []),
    ({"title": {"$contains": "guide"}, "year": {"$lt": 2030}}, {"d0"}, []),
    ({"title": {"$contains": "Guide"}}, set(), []),  # a type and a field that occur, a value that does not
]
IDS = [json.dumps(w) for w, _, _ in CASES]


def make(location) -> embkit.Collection:
    col = embkit.create(location, model=None, dim=DIM)
    col.add(ids=list(DOCS), metadatas=list(DOCS.values()), vectors=np.random.default_rng(0).random((3, DIM)) + 0.1)
    return col


def caught(call) -> tuple[object, list[str]]:
    """(what `call` returned, the EmbkitWarning messages it gave, in order)."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = call()
    assert all(w.category is EmbkitWarning for w in seen), [str(w.message) for w in seen]
    return result, [str(w.message) for w in seen]


@pytest.fixture
def col(backend):
    with make(backend("warn")) as c:
        yield c


@pytest.mark.parametrize("where, want, notes", CASES, ids=IDS)
def test_python_warns_and_returns_the_result(col, where, want, notes):
    assert col.filter_warnings(where) == notes
    got, said = caught(lambda: {d.id for d in col.get(where=where)})
    assert (got, said) == (want, notes)
    assert caught(lambda: col.count(where=where)) == (len(want), notes)
    hits, said = caught(lambda: {h.id for h in col.search(vector=np.ones(DIM), k=3, where=where)})
    assert (hits, said) == (want, notes)
    assert caught(lambda: len(col.table(where=where).ids)) == (len(want), [])  # analysis verbs explain it


def test_delete_warns_and_deletes_only_the_matches(col):
    assert caught(lambda: col.delete(where={"titel": "FAQ"})) == (0, [NO_FIELD.format("titel")])
    assert caught(lambda: col.delete(where={"year": {"$in": [2020, "x"]}})) == (1, [NO_TYPE.format("year", "string")])
    assert [d.id for d in col.get()] == ["d0", "d2"]


def test_lookup_and_remove_return_the_warnings_as_values_without_warning(col):
    """The doors that report warnings themselves (HTTP, the CLI) get them as values:
    nothing goes through the process-wide warnings module, which threads share."""
    found, said = caught(lambda: col.lookup(where={"titel": "FAQ"}))
    assert (found.documents, found.warnings, said) == ([], [NO_FIELD.format("titel")], [])
    deleted, said = caught(lambda: col.remove(where={"year": {"$in": [2020, "x"]}}))
    assert (deleted.documents, deleted.chunks, said) == (1, 1, [])
    assert deleted.warnings == (NO_TYPE.format("year", "string"),)


def test_no_warning_on_an_empty_collection_or_without_a_filter(backend):
    with embkit.create(backend("empty"), model=None, dim=DIM) as empty:
        assert caught(lambda: empty.get(where={"titel": "x"})) == ([], [])
        assert empty.filter_warnings(None) == [] and empty.filter_warnings({}) == []


def test_an_invalid_filter_is_an_error_not_a_warning(col):
    with pytest.raises(EmbkitError, match=r"^where\.title\.\$prefix: expected a string"):
        col.filter_warnings({"title": {"$prefix": 1}})
    with pytest.raises(EmbkitError, match=r"^where\.\$or: expected a non-empty list"):
        col.get(where={"$or": 1})


# ---- the CLI and HTTP say the same ---------------------------------------------------

WARNED = [(w, want, notes) for w, want, notes in CASES if notes][:4] + [CASES[-1]]


def test_cli_prints_the_same_warnings_on_stderr(tmp_path):
    make(tmp_path / "c").close()
    for where, want, notes in WARNED:
        done = embkit_cli("get", str(tmp_path / "c"), "--where", json.dumps(where), "--json")
        assert done.returncode == 0, done.stderr
        assert done.stderr.splitlines() == [f"warning: {n}" for n in notes]
        assert {d["id"] for d in json.loads(done.stdout)["documents"]} == want
        done = embkit_cli("search", str(tmp_path / "c"), "--like", "d2", "-k", "3", "--where", json.dumps(where),
                          "--json")
        assert done.returncode == 0, done.stderr
        assert done.stderr.splitlines() == [f"warning: {n}" for n in notes]
        assert {h["id"] for h in json.loads(done.stdout)["hits"]} == want - {"d2"}
    done = embkit_cli("get", str(tmp_path / "c"), "--where", '{"title": {"$contains": 5}}')
    assert (done.returncode, done.stderr) == (1, "error: where.title.$contains: expected a string, got 5\n")


def test_cli_prints_a_warning_once_and_an_empty_slice_as_one_error(tmp_path):
    """recommend filters in three calls (count, get, search): one line. An analysis verb
    refuses an empty slice with an error that names the field: that line alone."""
    make(tmp_path / "c").close()
    where = json.dumps({"$or": [{"year": 2021}, {"author": "x"}]})
    done = embkit_cli("recommend", str(tmp_path / "c"), "--liked", "d1", "-k", "1", "--where", where, "--json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"warning: {NO_FIELD.format('author')}\n"
    assert [h["id"] for h in json.loads(done.stdout)["results"]] == ["d0"]
    done = embkit_cli("dedupe", str(tmp_path / "c"), "--where", '{"author": "x"}', "--json")
    assert (done.returncode, done.stderr) == (1, 'error: where: {"author": "x"} matches no documents in the '
                                                 "collection; no document has the field 'author'\n")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    make(root / "c").close()
    live = LiveServer([str(root / "c"), "--no-auth"], root / "server.log")
    yield live
    live.stop()


def test_http_responses_carry_the_same_warnings(server):
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for where, want, notes in WARNED:
            got = http.post("/collections/c/get", json={"where": where}).json()
            assert ({d["id"] for d in got["documents"]}, got.get("warnings", [])) == (want, notes)
            got = http.post("/collections/c/search", json={"vector": [1.0] * DIM, "k": 3, "where": where}).json()
            assert ({h["id"] for h in got["hits"]}, got.get("warnings", [])) == (want, notes)
        ok = http.post("/collections/c/get", json={"where": {"meta.draft": True}}).json()
        whole = {**DOCS["d1"], "parent": "d1"}  # a whole record names itself as its document
        assert ok == {"documents": [{"id": "d1", "text": None, "metadata": whole}]}  # no "warnings" key
        got = http.post("/collections/c/delete", json={"where": {"titel": "x"}}).json()
        assert (got["deleted"], got["warnings"]) == (0, [NO_FIELD.format("titel")])
        bad = http.post("/collections/c/search", json={"vector": [1.0] * DIM, "where": {"t": {"$prefix": None}}})
        assert bad.status_code == 422 and "where.t.$prefix: expected a string, got null" in bad.text
