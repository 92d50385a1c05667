"""The bodies of POST .../files and .../sync take JSON values as the other routes and the
Python door do (strict_values.py): "yes" is not true, 0 is not false, "12" is not 12.
Pydantic's lax mode turned them into something else, so `"dry_run": "no"` ran a real
sync. Each is refused with the one-line error naming the field, and nothing is written."""

import base64

import pytest

import embkit

from live_server import served_client

TEXT = base64.b64encode(b"The moon orbits the earth every twenty-seven days.").decode()


@pytest.fixture(scope="module")
def served(tmp_path_factory, minilm):
    work = tmp_path_factory.mktemp("strict_files")
    (work / "src" / "notes").mkdir(parents=True)
    (work / "src" / "notes" / "bread.txt").write_text("Knead the dough and let the bread rise for an hour.")
    with embkit.create(work / "docs") as col:
        col.add(["A tomato soup simmers slowly with garlic and basil."], ids=["soup"])
    with served_client([str(work / "docs"), "--no-auth", "--source-root", str(work / "src")],
                       work / "server.log") as client:
        yield client


def _ids(client) -> list[str]:
    return sorted(d["id"] for d in client.post("/collections/docs/get", json={}).json()["documents"])


FILES = [  # (field, value, the error's message)
    ("upsert", "yes", "upsert: expected true or false, got 'yes'"),
    ("chunk", 0, "chunk: expected true or false, got 0"),
    ("chunk_tokens", "64", "chunk_tokens: must be an integer from 16 to 8192, got '64'"),
    ("overlap", 4.0, "overlap: must be an integer from 0 to 127 (less than half of chunk_tokens 256), got 4.0"),
]


@pytest.mark.parametrize("field,value,message", FILES, ids=[f for f, _, _ in FILES])
def test_files_refuses_a_value_of_another_type(served, field, value, message):
    body = {"folder": "up", "files": [{"path": "moon.txt", "data": TEXT}], field: value}
    response = served.post("/collections/docs/files", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"] == message
    assert _ids(served) == ["soup"]


def test_sync_refuses_a_dry_run_that_is_not_a_flag(served):
    """"no" read as false by the lax parser: a real sync where a dry run may have been meant."""
    response = served.post("/collections/docs/sync", json={"folder": "notes", "dry_run": "no"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"] == "dry_run: expected true or false, got 'no'"
    assert _ids(served) == ["soup"]
    dry = served.post("/collections/docs/sync", json={"folder": "notes", "dry_run": True})
    assert dry.status_code == 200 and dry.json()["counts"]["added"] == 1
    assert _ids(served) == ["soup"]
