"""Prompts by role through every door (issue 24): a real model folder whose
config_sentence_transformers.json names a query and a document prompt. Documents
(add, sync, bulk import, reembed) are stored as the model's vector of "passage: " +
text, queries (search, similarity --query, embed --as query, /v1/embeddings
input_type, LangChain embed_query, MCP search) are embedded as "query: " + text: the
same vectors, to 1e-6, as the folder's encoder run on the prompted texts by hand,
through Python, the CLI, HTTP, LangChain and MCP. Without a role, texts are embedded
as given."""

import asyncio
import json
import os
import sys

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

import embkit
from embkit.cli import app

from live_server import LiveServer, embkit_cli
from prompted_folder import DOCUMENT, QUERY, prompted_folder

DOCS = {
    "cat": "The cat sleeps on the warm windowsill all afternoon.",
    "tea": "Green tea is steeped for two minutes in water below boiling.",
    "rain": "Heavy rain flooded the streets of the old town.",
}
QUESTION = "where does the cat sleep"
TOL = 1e-6


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> str:
    return str(prompted_folder(tmp_path_factory.mktemp("prompted") / "model"))


@pytest.fixture(scope="module")
def encoder(model):
    return embkit.load_encoder(model)


@pytest.fixture(scope="module")
def root(tmp_path_factory, model):
    """A folder of collections: `docs`, made with the prompted model."""
    root = tmp_path_factory.mktemp("root")
    with embkit.create(root / "docs", model=model) as col:
        col.add(list(DOCS.values()), ids=list(DOCS))
    return root


@pytest.fixture(scope="module")
def server(root, tmp_path_factory):
    live = LiveServer(["--root", str(root), "--no-auth"], tmp_path_factory.mktemp("log") / "server.log")
    yield live
    assert live.stop() == 0


def by_hand(encoder, texts, prompt: str = "") -> np.ndarray:
    return encoder.encode([prompt + t for t in texts])


def stored(col) -> dict[str, np.ndarray]:
    table = col.table()
    return dict(zip(table.ids, table.vectors))


def stored_by_text(col) -> dict[str, np.ndarray]:
    table = col.table()
    return dict(zip(table.texts, table.vectors))


def assert_close(a, b) -> None:
    assert np.abs(np.asarray(a, dtype=np.float32) - np.asarray(b, dtype=np.float32)).max() <= TOL


def test_the_loader_reads_the_folders_prompts_by_role(encoder):
    assert encoder.prompts == {"query": QUERY, "document": DOCUMENT}


def test_add_stores_each_document_with_the_document_prompt(root, encoder):
    with embkit.open(root / "docs") as col:
        vectors = stored(col)
    assert_close([vectors[i] for i in DOCS], by_hand(encoder, DOCS.values(), DOCUMENT))
    assert np.abs(vectors["cat"] - by_hand(encoder, [DOCS["cat"]])[0]).max() > 1e-3  # the prompt matters


def test_python_embed_by_role_and_as_given_without_one(root, encoder):
    texts = [QUESTION, DOCS["tea"]]
    with embkit.open(root / "docs") as col:
        assert_close(col.embed(texts, role="query"), by_hand(encoder, texts, QUERY))
        assert_close(col.embed(texts, role="document"), by_hand(encoder, texts, DOCUMENT))
        assert_close(col.embed(texts, role="passage"), by_hand(encoder, texts, DOCUMENT))
        assert_close(col.embed(texts), by_hand(encoder, texts))
        with pytest.raises(embkit.EmbkitError, match="role: must be one of query, document"):
            col.embed(texts, role="question")


def test_search_and_similarity_embed_the_query_with_the_query_prompt(root, encoder):
    q = by_hand(encoder, [QUESTION], QUERY)[0]
    d = by_hand(encoder, DOCS.values(), DOCUMENT)
    with embkit.open(root / "docs") as col:
        hits = col.search(QUESTION, k=3)
        pairs = col.similarity([QUESTION], list(DOCS.values()), query=True)
    expected = dict(zip(DOCS, d @ q))
    assert hits[0].id == "cat"
    assert all(abs(h.score - expected[h.id]) <= TOL for h in hits)
    assert_close(pairs[0], d @ q)


def cli(*args: str):
    return CliRunner().invoke(app, list(map(str, args)))


def test_cli_embed_as_a_role_and_similarity_query(root, model, encoder):
    for role, prompt in (("query", QUERY), ("document", DOCUMENT), ("passage", DOCUMENT), (None, "")):
        extra = ["--as", role] if role else []
        done = cli("embed", QUESTION, "--model", model, *extra)
        assert done.exit_code == 0, done.output
        assert_close(json.loads(done.stdout)["vectors"], by_hand(encoder, [QUESTION], prompt))
    done = cli("embed", QUESTION, "--collection", root / "docs", "--as", "query")
    assert_close(json.loads(done.stdout)["vectors"], by_hand(encoder, [QUESTION], QUERY))
    done = cli("similarity", QUESTION, DOCS["cat"], "--model", model, "--query", "--json")
    expected = by_hand(encoder, [QUESTION], QUERY)[0] @ by_hand(encoder, [DOCS["cat"]], DOCUMENT)[0]
    assert abs(json.loads(done.stdout)["score"] - expected) <= TOL
    done = cli("search", root / "docs", QUESTION, "-k", "1", "--json")
    assert abs(json.loads(done.stdout)["hits"][0]["score"] - expected) <= TOL


def test_cli_embed_refuses_an_unknown_role_in_one_line(model):
    done = embkit_cli("embed", QUESTION, "--model", model, "--as", "question")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == "error: --as: must be one of query, document (or passage), got 'question'\n"


def test_http_embed_search_similarity_and_openai_input_type(server, encoder):
    texts = [QUESTION, DOCS["rain"]]
    q, d = by_hand(encoder, texts, QUERY), by_hand(encoder, texts, DOCUMENT)
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for role, expected in (("query", q), ("passage", d), (None, by_hand(encoder, texts))):
            body = {"texts": texts, **({"role": role} if role else {})}
            assert_close(http.post("/collections/docs/embed", json=body).json()["vectors"], expected)
            body = {"model": "docs", "input": texts, **({"input_type": role} if role else {})}
            answer = http.post("/v1/embeddings", json=body).json()
            assert_close([item["embedding"] for item in answer["data"]], expected)
        counted = encoder.token_counts([QUERY + t for t in texts])  # the prompt is read, so counted
        answer = http.post("/v1/embeddings", json={"model": "docs", "input": texts, "input_type": "query"}).json()
        assert answer["usage"]["prompt_tokens"] == sum(counted)
        hit = http.post("/collections/docs/search", json={"query": QUESTION, "k": 1}).json()["hits"][0]
        assert abs(hit["score"] - float(q[0] @ by_hand(encoder, [DOCS["cat"]], DOCUMENT)[0])) <= TOL
        scores = http.post("/collections/docs/similarity", json={"a": [QUESTION], "b": [DOCS["cat"]], "query": True})
        assert abs(scores.json()["scores"][0][0] - hit["score"]) <= TOL
        bad = http.post("/v1/embeddings", json={"model": "docs", "input": "x", "input_type": "question"})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "input_type"
        bad = http.post("/collections/docs/embed", json={"texts": ["x"], "role": "question"})
        assert bad.status_code == 422 and "role: must be one of" in bad.text  # the native API's 4xx for bad input


def test_langchain_embeds_queries_and_documents_by_role_locally_and_remotely(model, server, encoder):
    from embkit.integrations.langchain_embeddings import EmbkitEmbeddings

    texts = list(DOCS.values())
    for embeddings in (EmbkitEmbeddings(model), EmbkitEmbeddings("docs", url=server.url)):
        with embeddings:
            assert_close([embeddings.embed_query(QUESTION)], by_hand(encoder, [QUESTION], QUERY))
            assert_close(embeddings.embed_documents(texts), by_hand(encoder, texts, DOCUMENT))


def test_mcp_search_embeds_the_query_with_the_query_prompt(root, encoder, tmp_path):
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    env = {"HF_HUB_OFFLINE": "1", "EMBKIT_HOME": os.environ["EMBKIT_HOME"]}
    params = StdioServerParameters(command=sys.executable, args=["-m", "embkit.cli", "mcp", str(root / "docs")],
                                   env=env)

    async def search():
        with open(tmp_path / "mcp.log", "w") as log:
            async with stdio_client(params, errlog=log) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                return await session.call_tool("search", {"query": QUESTION, "k": 1})

    result = asyncio.run(search())
    assert not result.is_error, result.content
    hit = result.structured_content["hits"][0]
    expected = by_hand(encoder, [QUESTION], QUERY)[0] @ by_hand(encoder, [DOCS["cat"]], DOCUMENT)[0]
    assert hit["id"] == "cat" and abs(hit["score"] - expected) <= TOL


def test_sync_import_and_reembed_store_documents_with_the_document_prompt(model, encoder, tmp_path):
    from embkit.ingest.bulk import import_shards
    from embkit.ingest.shards import ingest_local

    expected = dict(zip(DOCS, by_hand(encoder, DOCS.values(), DOCUMENT)))
    notes = tmp_path / "notes"
    notes.mkdir()
    for name, text in DOCS.items():
        (notes / f"{name}.txt").write_text(text)
    with embkit.create(tmp_path / "synced", model=model) as col:
        col.sync(notes)
        assert_close([stored_by_text(col)[text] for text in DOCS.values()], list(expected.values()))
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in DOCS.items()))
    ingest_local([str(tmp_path / "in.jsonl")], tmp_path / "shards", model)
    with embkit.create(tmp_path / "imported", model=model) as col:
        import_shards(col, tmp_path / "shards")
        assert_close([stored(col)[i] for i in DOCS], list(expected.values()))
    with embkit.create(tmp_path / "moved") as col:  # MiniLM, then re-embedded with the prompted folder
        col.add(list(DOCS.values()), ids=list(DOCS))
        col.reembed(model)
    with embkit.open(tmp_path / "moved") as col:
        assert_close([stored(col)[i] for i in DOCS], list(expected.values()))
