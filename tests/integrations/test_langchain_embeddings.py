"""EmbkitEmbeddings: LangChain's own EmbeddingsUnitTests and EmbeddingsIntegrationTests,
unmodified, with the packaged MiniLM here and through a real `embkit serve` (one per
module, loopback, a read key); then the vectors against the encoder's own."""

import numpy as np
import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

import embkit
from embkit.errors import EmbkitError
from embkit.integrations.langchain import EmbkitEmbeddings

from langchain_suites import mark_async
from live_server import LiveServer, create_key

mark_async(EmbeddingsIntegrationTests)

TEXTS = ["the cat sat on the mat", "stock markets fell", "é ü 漢字 emoji 🙂"]


@pytest.fixture(scope="module")
def server(tmp_path_factory, minilm):
    """A real `embkit serve` of one MiniLM collection `notes`, with a read key."""
    base = tmp_path_factory.mktemp("langchain-embeddings")
    embkit.create(base / "notes", model="minilm").close()
    key = create_key(base / "keys.json", "read")
    live = LiveServer([str(base / "notes"), "--keys-file", str(base / "keys.json")], base / "server.log")
    yield live, key
    assert live.stop() == 0


class TestUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self):
        return EmbkitEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"model": "minilm"}

    @property
    def init_from_env_params(self):
        """A remote client takes its key from $EMBKIT_API_KEY (nothing is called at init)."""
        return (
            {"EMBKIT_API_KEY": "ek-from-env"},
            {"url": "http://127.0.0.1:9", "model": "notes"},
            {"api_key": "ek-from-env", "model": "notes"},
        )


class TestLocalModel(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self):
        return EmbkitEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"model": "minilm"}


class TestRemoteServer(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self):
        return EmbkitEmbeddings

    @pytest.fixture
    def model(self, server):
        live, key = server
        return EmbkitEmbeddings("notes", url=live.url, api_key=key)  # a served collection: its model


def test_vectors_are_the_encoders(minilm):
    model = EmbkitEmbeddings("minilm")
    want = minilm.encode(TEXTS)
    assert np.array_equal(np.asarray(model.embed_documents(TEXTS), dtype=np.float32), want)
    assert np.array_equal(np.asarray(model.embed_query(TEXTS[0]), dtype=np.float32), want[0])
    assert model.embed_documents([]) == []
    assert model.model_name == "minilm"


@pytest.mark.parametrize("name", ["notes", "minilm"])
def test_remote_vectors_equal_local(server, minilm, name):
    live, key = server
    remote = EmbkitEmbeddings(name, url=live.url, api_key=key)  # a served collection, or a catalog model
    got = np.asarray(remote.embed_documents(TEXTS), dtype=np.float32)
    assert got.shape == (3, 384)
    assert np.allclose(got, minilm.encode(TEXTS), atol=1e-6)
    assert remote.model_name == "minilm"
    assert key not in repr(remote)


def test_refusals_name_the_field(server):
    live, key = server
    with pytest.raises(EmbkitError, match=r"^text: empty or whitespace-only text$"):
        EmbkitEmbeddings("minilm").embed_query("   ")
    with pytest.raises(EmbkitError, match=r"^model: unknown model 'no-such-model'"):
        EmbkitEmbeddings("no-such-model").embed_query("x")
    with pytest.raises(EmbkitError, match=r"^api_key: a key is for a remote server; give url= too$"):
        EmbkitEmbeddings("minilm", api_key="k")
    with pytest.raises(EmbkitError, match=r"^model: no model or collection named 'nope' \(see GET /v1/models\)$"):
        EmbkitEmbeddings("nope", url=live.url, api_key=key).embed_query("x")
    with pytest.raises(EmbkitError, match=r"^url: expected the http\(s\):// address of an `embkit serve`"):
        EmbkitEmbeddings(url="127.0.0.1:8000")
    with pytest.raises(EmbkitError, match=r"API key"):
        EmbkitEmbeddings("notes", url=live.url, api_key="wrong").embed_query("x")
    with pytest.raises(EmbkitError, match=r"^url: cannot reach http://127.0.0.1:9 "):
        EmbkitEmbeddings("notes", url="http://127.0.0.1:9", api_key="k").embed_query("x")
