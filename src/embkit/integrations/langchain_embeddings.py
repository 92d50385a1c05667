"""EmbkitEmbeddings: LangChain's `Embeddings` over an embkit model, loaded here (a
catalog name, a registered trained model or a model folder) or served by a remote
`embkit serve` (the model of one of its collections)."""

import os
import threading

from langchain_core.embeddings import Embeddings
from pydantic import SecretStr

from .. import validate
from ..encoders import CATALOG, DEFAULT_MODEL, Encoder, load_encoder
from ..errors import EmbkitError
from .remote import RemoteCollection, Server

API_KEY_ENV = "EMBKIT_API_KEY"  # the key a remote client sends when none is given


class EmbkitEmbeddings(Embeddings):
    """Vectors from an embkit model, as embkit stores them (unit length for the
    normalized models). Locally: `EmbkitEmbeddings("minilm")` (default), a registered
    model or a folder. Remotely: `EmbkitEmbeddings(url=..., collection=NAME,
    api_key=...)` embeds with that collection's model on the server (the key defaults
    to $EMBKIT_API_KEY). Nothing is loaded or called until the first text."""

    def __init__(self, model: str | None = None, *, url: str | None = None, collection: str | None = None,
                 api_key: str | None = None, batch_size: int = 32, threads: int | None = None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise EmbkitError(f"batch_size: must be a whole number of at least 1, got {batch_size!r}")
        if url is None and (collection is not None or api_key is not None):
            raise EmbkitError("url: collection= and api_key= name a remote server's collection; give url= too")
        if url is not None:
            if model is not None:
                raise EmbkitError("model: a remote EmbkitEmbeddings embeds with its collection's model; "
                                  "give collection=NAME, not model=")
            if not isinstance(collection, str) or not collection:
                raise EmbkitError("collection: a remote EmbkitEmbeddings needs collection=NAME (its model embeds)")
        key = api_key if api_key is not None else (os.environ.get(API_KEY_ENV) if url is not None else None)
        self.model = None if url is not None else (model or DEFAULT_MODEL)
        self.url, self.collection, self.batch_size, self.threads = url, collection, batch_size, threads
        self.api_key = SecretStr(key) if key else None
        self._lock = threading.Lock()
        self._encoder: Encoder | None = None
        self._remote: RemoteCollection | None = None

    def __repr__(self) -> str:
        where = f"url={self.url!r}, collection={self.collection!r}" if self.url else f"model={self.model!r}"
        return f"EmbkitEmbeddings({where})"

    @property
    def model_name(self) -> str:
        """The model's name as a collection records it (a catalog name, a registered
        name, a folder's resolved path; remotely, the served collection's model)."""
        if self.url is not None:
            return self._served().space.model
        return self.model if self.model in CATALOG else self._loaded().name

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order (an empty or blank text is an EmbkitError)."""
        texts = validate.check_texts(list(texts))
        if not texts:
            return []
        if self.url is not None:
            return self._served().embed(texts).tolist()
        return self._loaded().encode(texts, batch_size=self.batch_size).tolist()

    def embed_query(self, text: str) -> list[float]:
        """The vector of one query text (embkit embeds queries as it embeds documents)."""
        return self.embed_documents([validate.check_query(text, "text")])[0]

    def _loaded(self) -> Encoder:
        with self._lock:
            if self._encoder is None:
                self._encoder = load_encoder(self.model, threads=self.threads)
            return self._encoder

    def _served(self) -> RemoteCollection:
        with self._lock:
            if self._remote is None:
                server = Server(self.url, self.api_key.get_secret_value() if self.api_key else None)
                found = RemoteCollection.open(server, self.collection)
                if found is None:
                    raise EmbkitError(f"collection: the server at {self.url} has no collection {self.collection!r}")
                self._remote = found
            return self._remote
