"""`embkit` commands on a `postgresql://…?collection=NAME` URL (a real PostgreSQL 16 +
pgvector server) give what they give on a folder: the same ids, scores within 1e-5,
documents and counts; the URL is shown without its password."""

import numpy as np
import pytest

from pg_docs import MEMORY_QUERY, TEXTS, cli, cli_json, collection_url, write_jsonl
from pg_server import PostgresServer, available

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

SECRET = "s3cret-pw"


@pytest.fixture(scope="module")
def server():
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def targets(server, tmp_path_factory):
    """The same documents added by the CLI to a URL and to a folder."""
    tmp = tmp_path_factory.mktemp("cli")
    url, folder = collection_url(server, "cli", password=SECRET), tmp / "docs"
    docs = write_jsonl(tmp / "docs.jsonl")
    for target in (url, folder):
        created = cli("init", target)
        assert SECRET not in created.output
        summary = cli_json("add", target, docs)
        assert (summary["added"], summary["count"]) == (len(TEXTS), len(TEXTS))
    return url, folder


def search(target, *args) -> list[dict]:
    return cli_json("search", target, *args)["hits"]


@pytest.mark.parametrize("args", [(MEMORY_QUERY, "-k", "5"), ("planets and water", "-k", "8"),
                                  ("hot drinks", "--where", '{"topic": "food"}'),
                                  ("baking bread at home", "--mode", "hybrid", "-k", "4"),
                                  ("--like", "bread", "-k", "3")],
                         ids=["dense", "all", "where", "hybrid", "like"])
def test_search_on_url_equals_folder(targets, args):
    url, folder = targets
    on_url, on_folder = search(url, *args), search(folder, *args)
    assert [h["id"] for h in on_url] == [h["id"] for h in on_folder]
    np.testing.assert_allclose([h["score"] for h in on_url], [h["score"] for h in on_folder], atol=1e-5)
    assert [(h["text"], h["metadata"]) for h in on_url] == [(h["text"], h["metadata"]) for h in on_folder]


def test_search_finds_the_expected_document(targets):
    url, _ = targets
    assert search(url, MEMORY_QUERY, "-k", "1")[0]["id"] == "rust"
    assert {h["id"] for h in search(url, "tea", "--where", '{"topic": "food"}')} == {"bread", "soup", "tea"}


def test_get_on_url_equals_folder(targets):
    url, folder = targets
    got = cli_json("get", url, "rust", "moon")["documents"]
    assert [(d["id"], d["text"], d["metadata"]) for d in got] == \
        [(i, TEXTS[i][0], {**TEXTS[i][1], "parent": i}) for i in ("rust", "moon")]
    assert got == cli_json("get", folder, "rust", "moon")["documents"]
    assert cli_json("get", url, "--where", '{"year": {"$gte": 2022}}') == \
        cli_json("get", folder, "--where", '{"year": {"$gte": 2022}}')


def test_info_shows_the_url_without_password(server, targets):
    url, _ = targets
    info = cli_json("info", url)
    assert info["path"] == f"postgresql://embkit@127.0.0.1:{server.port}/cli?collection=docs"
    assert (info["count"], info["model"], info["dim"], info["metric"]) == (len(TEXTS), "minilm", 384, "cosine")
    assert info["index"]["backend"] == "pgvector" and info["index"]["kind"] == "hnsw"
    text = cli("info", url).output
    assert info["path"] in text and SECRET not in text and SECRET not in str(info)


def test_delete_on_url_equals_folder(targets):
    url, folder = targets
    for target in (url, folder):
        assert cli_json("delete", target, "rust", "no-such-id") == {"deleted": 1, "documents": 1,
                                                                        "count": len(TEXTS) - 1}
        assert cli_json("delete", target, "--where", '{"topic": "space"}') == {"deleted": 2, "documents": 2,
                                                                             "count": len(TEXTS) - 3}
    on_url, on_folder = search(url, MEMORY_QUERY), search(folder, MEMORY_QUERY)
    assert [h["id"] for h in on_url] == [h["id"] for h in on_folder]
    assert {h["id"] for h in on_url} == set(TEXTS) - {"rust", "moon", "mars"}
    np.testing.assert_allclose([h["score"] for h in on_url], [h["score"] for h in on_folder], atol=1e-5)
