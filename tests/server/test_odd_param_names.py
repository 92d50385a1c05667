"""Odd names in what a route does not read, refused through a real `embkit serve`: the
422's line shows the name so its reader can see where it starts and ends. An empty name
(`GET /collections?=1`) printed as nothing before the colon; a name with spaces, quotes or
unprintable characters is quoted (Python's repr, as other messages quote names) with
its unprintable characters escaped; a long one is cut after MAX_NAME characters. A plain
name (`?limt=5`) is shown as sent, as before."""

import pytest

from embkit.server.params_unread import MAX_NAME

from live_server import served_client

TAIL = "unknown query parameter of GET /collections (allowed: none), got \"1\""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    work = tmp_path_factory.mktemp("odd_names")
    (work / "root").mkdir()
    with served_client(["--root", str(work / "root"), "--no-auth"], work / "server.log") as client:
        yield client


def message(client, url: str, status: int = 422, **kwargs) -> str:
    response = client.request(kwargs.pop("method", "GET"), url, **kwargs)
    assert response.status_code == status, response.text[:300]
    return response.json()["error"]["message"]


@pytest.mark.parametrize(("query", "shown"), [
    ("=1", "''"),                       # the empty name: nothing before the colon was sent
    ("limt=1", "limt"),                 # a plain name, as sent (as before)
    ("page.size-x_2=1", "page.size-x_2"),
    ("caf%C3%A9=1", "café"),            # letters of any script are plain
    ("a%20b=1", "'a b'"),               # a space would run into the message's words
    ("%20=1", "' '"),
    ("a%3A%20b=1", "'a: b'"),           # a colon would look like the message's own
    ("it%27s=1", "\"it's\""),
    ("%0Aline=1", "'\\nline'"),         # a line break: the message stays one line
    ("%E2%80%AEevil=1", "'\\u202eevil'"),  # a right-to-left override: escaped, not applied
    ("%E2%80%8B=1", "'\\u200b'"),       # an invisible one: seen
    ("%E3%85%A4=1", "'\\u3164'"),       # Hangul fillers: letters (\\w) drawn as nothing, shown bare before
    ("a%E3%85%A4b=1", "'a\\u3164b'"),
    ("%EF%BE%A0=1", "'\\uffa0'"),
    ("%E1%85%9F=1", "'\\u115f'"),
    ("%E2%A0%80=1", "'\\u2800'"),       # the Braille blank
    ("%CC%81=1", "'\\u0301'"),          # a combining mark first: nothing to sit on
])
def test_an_odd_name_is_quoted(served, query, shown):
    assert message(served, "/collections?" + query) == f"{shown}: {TAIL}"


def test_a_long_plain_name_is_cut(served):
    got = message(served, "/collections?" + "a" * 5000 + "=1")
    assert got == "a" * MAX_NAME + "...: " + TAIL


@pytest.mark.parametrize("char", ["%E2%80%AE", "%20", "%C3%A9%20"])
def test_a_long_odd_name_is_cut_after_its_escapes(served, char):
    got = message(served, "/collections?" + char * 2000 + "=1")
    name, tail = got.split(": unknown", 1)
    assert tail == TAIL.removeprefix("unknown")
    assert name.endswith("...") and name[0] in "'\"" and name[-4] == name[0]  # quoted, then cut
    assert MAX_NAME // 2 < len(name) <= MAX_NAME + 5  # the quotes and "..." beside the cap


def test_a_long_value_is_cut_with_a_mark(served):
    got = message(served, "/collections?limt=" + "v" * 5000)
    assert got.startswith("limt: unknown query parameter") and got.endswith('got "' + "v" * (MAX_NAME - 1) + "...")


def test_an_odd_body_field_name_is_quoted_a_repeated_name_as_before(served):
    assert served.post("/collections", json={"name": "made"}).status_code in (200, 201)
    tail = ": POST /collections/{name}/compact takes no body (its options are query parameters: full)"
    assert message(served, "/collections/made/compact", method="POST", json={"": True}) == "''" + tail
    assert message(served, "/collections/made/compact", method="POST", json={"a b": True}) == "'a b'" + tail
    got = message(served, "/collections/made/map?method=pca&method=umap")
    assert got == "method: given 2 times; give it once"
