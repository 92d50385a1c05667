"""`embkit mcp DIR` driven by the MCP SDK's own client over stdio: the tools listed with
their JSON schemas, a search's structured result equal to `embkit search --json` (ids and
scores), context with its citations, get, writes refused without --allow-write and
working with it, collections as resources, and bad input as one-line tool errors.
Two real server processes per module (read-only and writable), each on its own copy
of one collection made with the real MiniLM."""

import asyncio
import json
import os
import shutil
import sys

import pytest
import pytest_asyncio
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from typer.testing import CliRunner

import embkit
from embkit.cli import app
from embkit.errors import EmbkitError
from embkit.integrations.mcp_server import open_shelf

from hit_lists import assert_same_hits

TOPICS = {
    "gzip": "Gzip compresses files with the deflate algorithm and writes a .gz archive next to them.",
    "tar": "Tar bundles many files and folders into one archive before it is compressed.",
    "bread": "Knead the dough, let the bread rise for an hour, then bake it until golden.",
    "soup": "A tomato soup simmers slowly with garlic, basil and a little olive oil.",
    "moon": "The moon orbits the earth every twenty-seven days and turns the tides.",
    "mars": "Rovers on Mars search the old river beds for signs of ancient water.",
}
GUIDE = " ".join(
    f"Step {i}: bread dough needs flour, water, salt and yeast; knead it, let it rise, shape the "
    f"loaf and bake it in a hot oven until the crust is brown."
    for i in range(30)
)  # chunked
META = {
    "gzip": {"topic": "code", "year": 2020},
    "tar": {"topic": "code", "year": 2018},
    "bread": {"topic": "food", "year": 2021},
    "soup": {"topic": "food", "year": 2019},
    "moon": {"topic": "space", "year": 2022},
    "mars": {"topic": "space", "year": 2023},
    "baking-guide": {"topic": "food", "year": 2024},
}
SEARCHES = {  # tool arguments; the CLI arguments are made from them
    "dense": {"query": "how do I make a file smaller", "k": 5},
    "keyword": {"query": "bread dough", "k": 4, "mode": "keyword"},
    "hybrid": {"query": "compress an archive", "k": 5, "mode": "hybrid"},
    "where": {"query": "baking", "k": 5, "where": {"topic": {"$in": ["food", "space"]}, "year": {"$gte": 2020}}},
    "documents": {"query": "baking bread at home", "k": 3, "documents": True},
}
pytestmark = pytest.mark.asyncio(loop_scope="module")


class Served:
    """One `embkit mcp` process and the SDK's ClientSession on it, held open by a task
    of its own (the stdio client's cancel scopes are entered and left in one task)."""

    def __init__(self, args: list[str], log_path):
        env = {"HF_HUB_OFFLINE": "1", "EMBKIT_HOME": os.environ["EMBKIT_HOME"]}
        self.params = StdioServerParameters(command=sys.executable, args=["-m", "embkit.cli", "mcp", *args], env=env)
        self.log_path = log_path
        self.session: ClientSession | None = None

    async def start(self) -> ClientSession:
        self._stop = asyncio.Event()
        ready = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._hold(ready))
        self.session = await asyncio.wait_for(ready, 120)
        return self.session

    async def _hold(self, ready) -> None:
        try:
            with open(self.log_path, "w") as log:
                async with (
                    stdio_client(self.params, errlog=log) as (read, write),
                    ClientSession(read, write) as session,
                ):
                    await session.initialize()
                    ready.set_result(session)
                    await self._stop.wait()
        except BaseException as e:
            if not ready.done():
                ready.set_exception(e)
            raise

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.wait_for(self._task, 60)

    def log(self) -> str:
        return self.log_path.read_text()


@pytest.fixture(scope="module")
def folders(tmp_path_factory, minilm):
    """Two copies of one collection, `read/docs` and `write/docs`."""
    root = tmp_path_factory.mktemp("mcp")
    with embkit.create(root / "read" / "docs") as col:
        texts = {**TOPICS, "baking-guide": GUIDE}
        col.add(list(texts.values()), ids=list(texts), metadatas=[META[i] for i in texts])
        assert col.count() > len(texts)  # the guide is stored as chunks
    shutil.copytree(root / "read" / "docs", root / "write" / "docs")
    return root / "read" / "docs", root / "write" / "docs"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def reader(folders):
    served = Served([str(folders[0])], folders[0].parent / "mcp.log")
    yield await served.start()
    await served.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def writer(folders):
    served = Served([str(folders[1]), "--allow-write"], folders[1].parent / "mcp.log")
    yield await served.start()
    await served.stop()


def cli_json(*args) -> dict:
    done = CliRunner().invoke(app, [*map(str, args), "--json"])
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


def cli_search_args(options: dict) -> list[str]:
    args = [options["query"], "-k", str(options["k"])]
    if "mode" in options:
        args += ["--mode", options["mode"]]
    if "where" in options:
        args += ["--where", json.dumps(options["where"])]
    return args + (["--documents"] if options.get("documents") else [])


def error_line(result) -> str:
    """A tool error's text: one line, no traceback."""
    assert result.is_error, result
    text = result.content[0].text
    assert "\n" not in text and "Traceback" not in text, text
    return text


async def test_tools_are_listed_with_their_schemas(reader, writer):
    tools = {t.name: t for t in (await reader.list_tools()).tools}
    assert set(tools) == {"search", "context", "get"}
    search = tools["search"].input_schema
    assert search["required"] == ["query"]
    assert set(search["properties"]) == {"query", "collection", "mode", "k", "where", "documents"}
    assert all(p.get("description") for p in search["properties"].values())
    assert search["properties"]["mode"]["enum"] == ["dense", "keyword", "hybrid"]
    assert "docs" in search["properties"]["collection"]["description"]
    assert tools["context"].input_schema["required"] == ["question"]
    assert {"budget_tokens", "k", "where", "mode"} <= set(tools["context"].input_schema["properties"])
    assert tools["get"].input_schema["required"] == ["ids"]
    assert {"hits", "took_ms"} <= set(tools["search"].output_schema["properties"])
    assert tools["search"].annotations.read_only_hint is True
    assert tools["search"].description.startswith("Search a collection by meaning, by keywords or both. Each hit")
    assert all("  " not in t.description and "\n" not in t.description for t in tools.values())

    written = {t.name: t for t in (await writer.list_tools()).tools}
    assert set(written) == {"search", "context", "get", "add", "delete"}
    assert written["add"].input_schema["required"] == ["documents"]
    assert written["delete"].input_schema["required"] == ["ids"]
    assert written["delete"].annotations.destructive_hint is True


@pytest.mark.parametrize("case", SEARCHES)
async def test_search_equals_the_cli(reader, folders, case):
    options = SEARCHES[case]
    result = await reader.call_tool("search", options)
    assert not result.is_error, result.content
    expected = cli_json("search", folders[0], *cli_search_args(options))
    assert expected["hits"], case
    assert_same_hits(expected["hits"], result.structured_content["hits"])
    assert result.structured_content.get("warnings") == expected.get("warnings")
    first = result.structured_content["hits"][0]
    assert result.content[0].text.startswith(f"1. {first['score']:.4f}  {first['id']}")


async def test_search_filter_selects_and_documents_groups(reader):
    where = (await reader.call_tool("search", SEARCHES["where"])).structured_content["hits"]
    assert {h["document"] for h in where} <= {"bread", "moon", "mars", "baking-guide"}
    grouped = (await reader.call_tool("search", SEARCHES["documents"])).structured_content["hits"]
    assert len({h["document"] for h in grouped}) == len(grouped) == 3


async def test_context_has_numbered_citations_as_the_cli(reader, folders):
    result = await reader.call_tool("context", {"question": "how to bake bread", "budget_tokens": 200})
    assert not result.is_error, result.content
    got = result.structured_content
    expected = cli_json("context", folders[0], "how to bake bread", "--budget-tokens", "200")
    assert [p["id"] for p in got["passages"]] == [p["id"] for p in expected["passages"]]
    assert [p["n"] for p in got["passages"]] == list(range(1, len(got["passages"]) + 1))
    assert got["text"] == expected["text"] and got["tokens"] == expected["tokens"] <= 200
    assert got["text"].startswith("[1] ") and result.content[0].text == got["text"]


async def test_get_returns_what_the_cli_gets(reader, folders):
    result = await reader.call_tool("get", {"ids": ["moon", "baking-guide"]})
    assert result.structured_content == cli_json("get", folders[0], "moon", "baking-guide")
    rows = result.structured_content["documents"]
    assert rows[0] == {"id": "moon", "text": TOPICS["moon"], "metadata": {**META["moon"], "parent": "moon"}}
    assert [r["id"] for r in rows[1:]] == [f"baking-guide#{i}" for i in range(len(rows) - 1)]
    assert error_line(await reader.call_tool("get", {"ids": ["moon", "nope"]})) == "ids: no document with id 'nope'"
    assert error_line(await reader.call_tool("get", {"ids": []})) == "ids: give one or more ids"


async def test_writes_are_refused_without_allow_write(reader, folders):
    for name, args in (("add", {"documents": [{"text": "x"}]}), ("delete", {"ids": ["moon"]})):
        line = error_line(await reader.call_tool(name, args))
        assert line.startswith(f"{name}: this server is read-only") and "--allow-write" in line
    assert cli_json("info", folders[0])["documents"] == len(TOPICS) + 1


async def test_add_then_search_then_delete_with_allow_write(writer, folders):
    doc = {"id": "kite", "text": "Fly a kite on a windy beach in autumn.", "metadata": {"topic": "fun"}}
    added = await writer.call_tool("add", {"documents": [doc]})
    assert not added.is_error, added.content
    assert added.structured_content == {"ids": ["kite"]}
    found = await writer.call_tool(
        "search", {"query": "flying kites at the seaside", "k": 1, "where": {"topic": "fun"}}
    )
    assert [h["id"] for h in found.structured_content["hits"]] == ["kite"]
    assert error_line(await writer.call_tool("add", {"documents": [doc]})).startswith("ids")  # exists already
    bad = {"documents": [{"text": "fine"}, {"text": "kite", "colour": "red"}]}
    assert (
        error_line(await writer.call_tool("add", bad))
        == 'documents[1].colour: extra inputs are not permitted, got "red"'
    )
    assert error_line(await writer.call_tool("delete", {"ids": ["kite"], "where": {"topic": "fun"}})) == (
        'where: unknown argument (allowed: ids, collection), got {"topic": "fun"}'
    )
    with embkit.open(folders[1]) as col, pytest.raises(embkit.EmbkitError) as python:  # as Python and HTTP refuse it
        col.add(["fine", "kite"], ids=[None, "kite2"])
    mixed = {"documents": [{"text": "fine"}, {"id": "kite2", "text": "kite"}]}  # some ids given, some not
    assert (
        error_line(await writer.call_tool("add", mixed))
        == str(python.value)
        == ("ids[0]: expected a non-empty string, got None")
    )
    deleted = await writer.call_tool("delete", {"ids": ["kite"]})
    assert deleted.structured_content == {"deleted": 1, "documents": 1, "count": cli_json("info", folders[1])["count"]}
    assert cli_json("info", folders[1])["documents"] == len(TOPICS) + 1


async def test_collections_are_resources_with_model_counts_and_fields(reader, folders):
    info = cli_json("info", folders[0])
    (listed,) = (await reader.list_resources()).resources
    assert (str(listed.uri), listed.name, listed.mime_type) == ("embkit://collections/docs", "docs", "application/json")
    assert "model minilm" in listed.description
    assert f"{info['documents']} documents in {info['chunks']} chunks" in listed.description
    read = await reader.read_resource("embkit://collections/docs")
    shown = json.loads(read.contents[0].text)
    assert (shown["model"], shown["documents"], shown["chunks"]) == ("minilm", info["documents"], info["chunks"])
    assert {"topic", "year", "parent"} <= set(shown["fields"])
    assert "food" in shown["fields"]["topic"]["values"]


@pytest.mark.parametrize(
    "arguments, line",
    [
        ({"query": "x", "mode": "fuzzy"}, "mode: input should be 'dense', 'keyword' or 'hybrid', got \"fuzzy\""),
        ({"query": "x", "k": 0}, "k: must be an integer from 1 to 10000, got 0"),
        ({"query": "x", "k": "many"}, "k: input should be a valid integer"),
        ({"query": "x", "where": {"year": {"$near": 3}}}, "where.year"),
        ({"query": "x", "collection": "other"}, "collection: no collection named 'other' is served (served: docs)"),
        ({"k": 3}, "query: field required"),
        ({"query": "  "}, "query"),
        (  # was ignored: an agent's misspelt filter returned unfiltered hits
            {"query": "x", "filter": {"year": 2020}},
            'filter: unknown argument (allowed: query, collection, mode, k, where, documents), got {"year": 2020}',
        ),
        ({"query": "x", "top\nk": 3}, "top\\nk: unknown argument (allowed: "),
    ],
)
async def test_bad_input_is_a_one_line_tool_error(reader, arguments, line):
    assert error_line(await reader.call_tool("search", arguments)).startswith(line)


async def test_several_collections_are_named_and_one_name_is_served_once(folders, tmp_path):
    embkit.create(tmp_path / "notes", model=None, dim=4).close()
    shelf = open_shelf([str(folders[0]), str(tmp_path / "notes")])
    try:
        assert shelf.pick("notes").collection.name == "notes"
        with pytest.raises(EmbkitError, match="^collection: several collections are served; name one of docs, notes$"):
            shelf.pick(None)
    finally:
        for served in shelf.by_name.values():
            served.collection.close(save=False)  # the reader server holds `docs` open too
    with pytest.raises(EmbkitError, match="^paths: two collections named 'docs'"):
        open_shelf([str(folders[0]), str(folders[1])])
