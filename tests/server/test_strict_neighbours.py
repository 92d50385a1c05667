"""The server's max_k bounds the neighbours outliers, duplicates and dedupe ask of each
document, as it bounds a search's k: outliers hold an (n, k) table, so a read key asking
k near n of a large collection could take memory of n squared. Past the limit: a 422
naming k and the limit, and nothing deleted."""

import pytest

import embkit

from live_server import served_client

TEXTS = ["Knead the dough and let the bread rise.", "Knead the dough and let the bread rise!",
         "A tomato soup simmers slowly.", "The moon orbits the earth.", "Mars is a cold planet.",
         "Rivers run to the sea."]
MAX_K = 3


@pytest.fixture(scope="module")
def served(tmp_path_factory, minilm):
    work = tmp_path_factory.mktemp("neighbours")
    with embkit.create(work / "docs") as col:
        col.add(TEXTS, ids=[f"d{i}" for i in range(len(TEXTS))])
    with served_client([str(work / "docs"), "--no-auth", "--max-k", str(MAX_K)], work / "server.log") as client:
        yield client


@pytest.mark.parametrize("route,extra", [("outliers", {}), ("duplicates", {"threshold": 0.9}),
                                         ("dedupe", {"threshold": 0.9, "delete": True})])
def test_neighbours_past_max_k_are_refused(served, route, extra):
    response = served.post(f"/collections/docs/{route}", json={"k": MAX_K + 1, **extra})
    assert response.status_code == 422, response.text
    assert response.json()["error"] == {"code": "limit_exceeded", "limit": "max_k",
                                        "request_id": response.headers["x-request-id"],
                                        "message": f"k: {MAX_K + 1} exceeds the maximum of {MAX_K} (limit max_k)"}
    assert served.get("/collections/docs").json()["documents"] == len(TEXTS)


def test_neighbours_within_max_k_still_work(served):
    found = served.post("/collections/docs/outliers", json={"k": MAX_K, "top": 2})
    assert found.status_code == 200 and len(found.json()["results"]) == 2
    groups = served.post("/collections/docs/duplicates", json={"k": MAX_K, "threshold": 0.9}).json()["groups"]
    assert [sorted(g["ids"]) for g in groups] == [["d0", "d1"]]
