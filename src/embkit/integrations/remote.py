"""A remote `embkit serve`, reached over its own HTTP routes: a collection (upsert, get,
delete, search, made under --root) with the few Collection verbs the integrations use and
the same return types (Hit, Document, Space), so a door can hold either kind; and a
model to embed with (the OpenAI-compatible /v1/embeddings)."""

import os
import warnings
from functools import cached_property
from typing import Any, Sequence
from urllib.parse import quote

import httpx
import numpy as np

from .. import validate
from ..collection import Document
from ..errors import EmbkitError, EmbkitWarning
from ..search import Hit
from ..store import Space

BATCH = 500  # documents or texts per request: under the server's default max_batch (1000)
API_KEY_ENV = "EMBKIT_API_KEY"  # the key a client sends when none is given


def api_key_or_env(api_key: str | None) -> str | None:
    """The key given, else $EMBKIT_API_KEY (None: send no key, for a `--no-auth` server)."""
    return api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None


class RemoteError(EmbkitError):
    """The server refused a request: its one-line message, and the HTTP status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class Server:
    """An `embkit serve` at `url`, called with `api_key` (Bearer) if given."""

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 60.0):
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise EmbkitError(f"url: expected the http(s):// address of an `embkit serve`, got {url!r}")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        """The JSON answer of one request; a refusal is a RemoteError with the server's message."""
        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as e:
            raise EmbkitError(f"url: cannot reach {self.url} ({type(e).__name__}: {e})") from None
        except (TypeError, ValueError) as e:  # not JSON (the verbs check what they send first)
            raise EmbkitError(f"body: cannot be sent as JSON ({e})") from None
        if response.status_code >= 400:
            raise RemoteError(_message(response), response.status_code)
        try:
            return response.json()
        except ValueError:  # a proxy's page, not embkit's answer
            raise EmbkitError(
                f"url: {self.url} answered {response.status_code} without JSON; is it embkit serve?"
            ) from None

    def close(self) -> None:
        self._http.close()


def _message(response: httpx.Response) -> str:
    """The server's `{"error": {"message"}}`, or the status line when the body is not ours."""
    try:
        error = response.json().get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
    except ValueError:
        pass
    return f"server: HTTP {response.status_code} from {response.request.url}"


class RemoteCollection:
    """A served collection by name: upsert, add, get, delete, search and embed, as
    embkit.Collection has them (the server checks every value, as the library does)."""

    def __init__(self, server: Server, name: str, info: dict):
        self.server, self.name = server, name
        self._path = f"/collections/{quote(name, safe='')}"
        self.space = _space(info)

    @classmethod
    def open(cls, server: Server, name: str) -> "RemoteCollection | None":
        """The collection `name`, or None when the server has no such collection."""
        try:
            info = server.call("GET", f"/collections/{quote(name, safe='')}")
        except RemoteError as e:
            if e.status == 404:
                return None
            raise
        return cls(server, name, info)

    @classmethod
    def create(cls, server: Server, name: str, model: str | None, metric: str, dim: int | None) -> "RemoteCollection":
        """A new collection under the server's --root (needs an admin key)."""
        info = server.call("POST", "/collections", {"name": name, "model": model, "metric": metric, "dim": dim})
        return cls(server, name, info)

    def upsert(
        self,
        texts: Sequence[str] | None = None,
        *,
        ids: Sequence[str],
        metadatas: Sequence[dict],
        vectors: Any = None,
        chunk: bool = True,
    ) -> list[str]:
        """Add or replace documents by id, BATCH per request (each its own transaction)."""
        metadatas = validate.check_metadatas(metadatas, len(ids))  # as the library checks them, before JSON
        if vectors is not None:
            vectors = validate.check_vectors(vectors, len(ids), self.space.dim, self.space.model)
        rows = vectors.tolist() if vectors is not None else None
        done: list[str] = []
        for start in range(0, len(ids), BATCH):
            part = range(start, min(start + BATCH, len(ids)))
            documents = [
                {
                    "id": ids[i],
                    "metadata": metadatas[i],
                    **({"text": texts[i]} if texts is not None else {}),
                    **({"vector": rows[i]} if rows is not None else {}),
                }
                for i in part
            ]
            answer = self.server.call("POST", f"{self._path}/upsert", {"documents": documents, "chunk": chunk})
            _warn(answer)
            done += answer["ids"]
        return done

    def get(self, ids: Sequence[str]) -> list[Document]:
        """Records by id, in the order given; missing ids left out."""
        found: list[Document] = []
        for start in range(0, len(ids), BATCH):
            answer = self.server.call("POST", f"{self._path}/get", {"ids": list(ids[start : start + BATCH])})
            found += [Document(d["id"], d.get("text"), d.get("metadata") or {}) for d in answer["documents"]]
        return found

    def delete(self, ids: Sequence[str] | None = None, where: dict | None = None) -> int:
        """Delete by ids and/or filter; returns how many records (chunks) went."""
        if ids is None:
            answer = self.server.call("POST", f"{self._path}/delete", {"where": where})
            _warn(answer)
            return answer["deleted"]
        deleted = 0
        for start in range(0, len(ids), BATCH):
            body = {"ids": list(ids[start : start + BATCH]), **({"where": where} if where is not None else {})}
            answer = self.server.call("POST", f"{self._path}/delete", body)
            _warn(answer)
            deleted += answer["deleted"]
        return deleted

    def search(self, query: str | None = None, **options) -> list[Hit]:
        """Hits as `Collection.search` returns them (options: SearchRequest's fields)."""
        if options.get("vector") is not None:
            vector = validate.check_vectors(options["vector"], 1, self.space.dim, self.space.model, "vector")
            options["vector"] = vector[0].tolist()
        body = {key: value for key, value in {"query": query, **options}.items() if value is not None}
        answer = self.server.call("POST", f"{self._path}/search", body)
        _warn(answer)
        return [Hit(**{field: hit[field] for field in Hit._fields if field in hit}) for hit in answer["hits"]]


class RemoteModel:
    """A model the server embeds with, by the name its OpenAI-compatible routes take: a
    catalog or registered model, or a served collection's name (its model)."""

    def __init__(self, server: Server, name: str):
        self.server, self.name = server, name

    @cached_property
    def model_name(self) -> str:
        """The model as a collection records it (for a collection's name: its model);
        asked once."""
        card = self.server.call("GET", f"/v1/models/{quote(self.name, safe='')}")
        return card["model"] if card.get("kind") == "collection" else card["id"]

    def embed(self, texts: Sequence[str], role: str | None = None) -> np.ndarray:
        """Vectors for `texts` (POST /v1/embeddings), as `embkit embed` gives them;
        `role` ("query", "document") is sent as `input_type`, for the model's prompt."""
        rows: list = []
        for start in range(0, len(texts), BATCH):
            body = {"model": self.name, "input": list(texts[start : start + BATCH])}
            if role is not None:
                body["input_type"] = role
            data = self.server.call("POST", "/v1/embeddings", body)["data"]
            rows += [item["embedding"] for item in sorted(data, key=lambda item: item["index"])]
        return np.asarray(rows, dtype=np.float32)


def _space(info: dict) -> Space:
    """The collection's default space from `GET /collections/{name}`."""
    spaces = info.get("spaces") or {}
    name = info.get("space") or "text"
    normalized = bool((spaces.get(name) or {}).get("normalized", False))
    return Space(name, info["model"], int(info["dim"]), info["metric"], normalized)


def _warn(answer: dict) -> None:
    """The server's warnings shown as the Python door shows them (EmbkitWarning)."""
    for line in answer.get("warnings") or ():
        warnings.warn(line, EmbkitWarning, stacklevel=3)
