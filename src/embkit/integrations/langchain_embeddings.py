"""EmbkitEmbeddings: LangChain's `Embeddings` over an embkit model, loaded here (a
catalog name, a registered trained model or a model folder) or served by a remote
`embkit serve` (through its OpenAI-compatible /v1/embeddings)."""

import threading

from langchain_core.embeddings import Embeddings
from pydantic import SecretStr

from .. import validate
from ..encoders import CATALOG, DEFAULT_MODEL, Encoder, load_encoder
from ..encoders.prompts import encode_as
from ..errors import EmbkitError
from .remote import RemoteModel, Server, api_key_or_env


class EmbkitEmbeddings(Embeddings):
    """Vectors from an embkit model, as `embkit embed` gives them (unit length for the
    normalized models). `model` is a catalog name (`minilm`, the default), a registered
    trained model or a model folder; with `url=` (and `api_key=`, by default
    $EMBKIT_API_KEY) the server at that address embeds, and `model` may also name one
    of its collections (that collection's model). Nothing is loaded or called until
    the first text."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        url: str | None = None,
        api_key: str | None = None,
        batch_size: int = 32,
        threads: int | None = None,
    ):
        if not isinstance(model, str) or not model:
            raise EmbkitError(f"model: expected a model name or folder, got {model!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise EmbkitError(f"batch_size: must be a whole number of at least 1, got {batch_size!r}")
        if url is None and api_key is not None:
            raise EmbkitError("api_key: a key is for a remote server; give url= too")
        key = api_key_or_env(api_key) if url is not None else None
        self.model, self.url, self.batch_size, self.threads = model, url, batch_size, threads
        self.api_key = SecretStr(key) if key else None
        self._lock = threading.Lock()
        self._encoder: Encoder | None = None
        self._remote = RemoteModel(Server(url, key), model) if url is not None else None

    def close(self) -> None:
        """Close the connection to the server (remote embeddings; nothing to do locally)."""
        if self._remote is not None:
            self._remote.server.close()

    def __enter__(self) -> "EmbkitEmbeddings":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EmbkitEmbeddings(model={self.model!r}" + (f", url={self.url!r})" if self.url else ")")

    @property
    def model_name(self) -> str:
        """The model's name as a collection records it (a catalog or registered name, a
        folder's resolved path; for a served collection's name, its model)."""
        if self._remote is not None:
            return self._remote.model_name
        return self.model if self.model in CATALOG else self._loaded().name

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order, embedded as documents (with the model's
        document prompt, if it has one); an empty or blank text is an EmbkitError."""
        return self._embed(validate.check_texts(list(texts)), "document")

    def embed_query(self, text: str) -> list[float]:
        """The vector of one query text (with the model's query prompt, if it has one)."""
        return self._embed([validate.check_query(text, "text")], "query")[0]

    def _embed(self, texts: list[str], role: str) -> list[list[float]]:
        if not texts:
            return []
        if self._remote is not None:
            return self._remote.embed(texts, role).tolist()
        return encode_as(self._loaded(), texts, role, self.batch_size).tolist()

    def _loaded(self) -> Encoder:
        with self._lock:
            if self._encoder is None:
                self._encoder = load_encoder(self.model, threads=self.threads)
            return self._encoder
