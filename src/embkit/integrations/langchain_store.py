"""EmbkitVectorStore: LangChain's `VectorStore` over an embkit collection (a local
folder, a Collection, or a collection on a remote `embkit serve`).

Who embeds: with no `embedding`, or an EmbkitEmbeddings of the collection's own model,
embkit embeds texts and queries itself (as `embkit add` / `Collection.search` do). Any
other Embeddings computes the vectors, which embkit stores and searches by (a new
collection then records no model, only the dimension). A LangChain Document is one
record, stored whole (`chunk=False`); `chunk=True` lets embkit cut long texts into
chunks `ID#0`, `ID#1`, ... as `embkit add` does, and hits are then chunks."""

import math
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from ..collection import Collection
from ..encoders import DEFAULT_MODEL
from ..errors import EmbkitError
from ..search import METRICS
from .langchain_embeddings import EmbkitEmbeddings
from .places import LocalPlace, RemotePlace

# embkit's search options a LangChain caller may pass as keywords (filter is `where`)
SEARCH_OPTIONS = ("mode", "rrf_k", "alpha", "rerank", "reranker", "documents", "ef", "nprobe", "rescore", "dims")


class EmbkitVectorStore(VectorStore):
    """`EmbkitVectorStore("folder", embedding)`, `EmbkitVectorStore(collection_object)`
    or `EmbkitVectorStore(url=..., collection=NAME, api_key=..., embedding=...)` (the
    key defaults to $EMBKIT_API_KEY). A folder or served name without a collection yet
    gets one on the first write (remotely that needs an admin key and a server started
    with --root); a PostgreSQL collection URL must name one that exists. Scores are
    embkit's (higher is better: cosine, dot, negated L2 distance); `filter` is
    embkit's `where` (e.g. `{"year": {"$gte": 2020}}`)."""

    def __init__(
        self,
        path: str | Path | Collection | None = None,
        embedding: Embeddings | None = None,
        *,
        url: str | None = None,
        collection: str | None = None,
        api_key: str | None = None,
        metric: str = "cosine",
        chunk: bool = False,
    ):
        if (path is None) == (url is None):
            raise EmbkitError(
                "path: give a collection folder (or Collection) or url= of an `embkit serve`, one of them"
            )
        if metric not in METRICS:
            raise EmbkitError(f"metric: unknown {metric!r} (allowed: {', '.join(METRICS)})")
        if not isinstance(chunk, bool):
            raise EmbkitError(f"chunk: expected true or false, got {chunk!r}")
        if embedding is not None and not isinstance(embedding, Embeddings):
            raise EmbkitError(f"embedding: expected a LangChain Embeddings, got {type(embedding).__name__}")
        self._place = LocalPlace(path) if url is None else RemotePlace(url, collection, api_key)
        self._embedding, self.metric, self.chunk = embedding, metric, chunk
        self._remote = (url, collection, api_key) if url is not None else None
        self._col = None
        self._served_embeddings: EmbkitEmbeddings | None = None  # made once: each holds an HTTP client

    @property
    def embeddings(self) -> Embeddings | None:
        """The Embeddings given, else an EmbkitEmbeddings of the collection's model (on
        the server, for a remote store); None for a collection of vectors from no model."""
        if self._embedding is not None:
            return self._embedding
        if self._remote is not None:
            if self._served_embeddings is None:
                url, name, key = self._remote
                self._served_embeddings = EmbkitEmbeddings(name, url=url, api_key=key)
            return self._served_embeddings
        col = self._collection()
        model = col.space.model if col is not None else DEFAULT_MODEL
        return None if model == "none" else EmbkitEmbeddings(model)

    # -- writing -------------------------------------------------------------------------

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict] | None = None,
        *,
        ids: list[str | None] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Add texts, replacing the documents whose ids exist (LangChain's add is an
        upsert by id); ids not given (or None) are made (uuid4 hex). Returns the ids."""
        _no_other_options(kwargs, "add_texts")
        texts = list(_sequence(texts, "texts"))
        metadatas = _metadatas(metadatas) if metadatas is not None else [{} for _ in texts]
        ids = (
            [i if i is not None else uuid.uuid4().hex for i in _sequence(ids, "ids")]
            if ids is not None
            else [uuid.uuid4().hex for _ in texts]
        )
        if len(metadatas) != len(texts) or len(ids) != len(texts):
            raise EmbkitError(
                f"ids: {len(texts)} texts need as many metadatas and ids "
                f"(got {len(metadatas)} metadatas, {len(ids)} ids)"
            )
        if not texts:
            return []
        col = self._collection()
        if col is not None:
            return self._write(col, texts, ids, metadatas, None)
        return self._first_write(texts, ids, metadatas)

    def _first_write(self, texts: list[str], ids: list[str], metadatas: list[dict]) -> list[str]:
        """Make the collection (with the model that embeds, or for vectors computed
        elsewhere their dimension) and write; a refused write takes it away again."""
        vectors = None
        if self._embeds_itself(None):
            col = self._made(self._embedding.model_name if self._embedding is not None else DEFAULT_MODEL, None)
        else:
            vectors = self._embedding.embed_documents(texts)
            col = self._made(None, len(vectors[0]) if len(vectors) and len(vectors[0]) else None)
        try:
            return self._write(col, texts, ids, metadatas, vectors)
        except BaseException:
            self._col = None
            self._place.discard(col)
            raise

    def _write(self, col, texts: list[str], ids: list[str], metadatas: list[dict], vectors) -> list[str]:
        """Upsert: embkit embeds the texts itself, or stores the Embeddings' vectors."""
        if self._embeds_itself(col):
            return col.upsert(texts, ids=ids, metadatas=metadatas, chunk=self.chunk)
        if vectors is None:
            vectors = self._embedding.embed_documents(texts)
        return col.upsert(texts, ids=ids, metadatas=metadatas, vectors=vectors, **self._model_of_vectors())

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Delete documents by id (a document id: all its chunks) and/or those `filter`
        selects. Missing ids are no error. Deleting everything is not done by omission:
        give ids or a filter."""
        where = _where(kwargs)
        _no_other_options(kwargs, "delete")
        if ids is None and where is None:
            raise EmbkitError("ids: give the ids to delete, or filter= (embkit's where) to delete what it selects")
        col = self._collection()
        if ids is not None:
            ids = list(_sequence(ids, "ids"))
        if col is not None and (ids is None or len(ids)):
            col.delete(ids=ids, where=where)
        return True

    # -- reading -------------------------------------------------------------------------

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Documents by id, in the order given; missing ids left out (a document stored
        as chunks gives its chunks)."""
        ids = list(_sequence(ids, "ids"))
        col = self._collection()
        if col is None or not ids:
            return []
        return [_document(d.id, d.text, d.metadata) for d in col.get(ids)]

    def similarity_search(self, query: str, k: int = 4, filter: dict | None = None, **kwargs: Any) -> list[Document]:
        """The `k` documents nearest `query` (embkit's search; options such as
        mode="hybrid" pass through when embkit embeds the query itself)."""
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: dict | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """(document, score) pairs, best first; the score is embkit's (higher is better)."""
        return self._search(query, None, k, filter, kwargs)

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: dict | None = None, **kwargs: Any
    ) -> list[Document]:
        """The `k` documents nearest a vector (of the collection's dimension)."""
        return [doc for doc, _ in self.similarity_search_with_score_by_vector(embedding, k, filter, **kwargs)]

    def similarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = 4, filter: dict | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """(document, score) pairs for a vector, best first."""
        return self._search(None, embedding, k, filter, kwargs)

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: dict | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """embkit's MMR (`search(mmr=lambda_mult)`: 1 relevance only, 0 diversity only).
        embkit picks from its own candidate pool (4 × k), so `fetch_k` is not used."""
        hits = self._search(query, None, k, filter, {**kwargs, "mmr": lambda_mult})
        return [doc for doc, _ in hits]

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: dict | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """MMR around a vector (see max_marginal_relevance_search)."""
        return [doc for doc, _ in self._search(None, embedding, k, filter, {**kwargs, "mmr": lambda_mult})]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        """embkit's scores on LangChain's [0, 1] relevance scale: cosine (and dot of
        unit vectors) from [-1, 1]; l2 as LangChain maps a distance of unit vectors."""
        col = self._collection()
        metric = col.space.metric if col is not None else self.metric
        if metric == "l2":
            return lambda score: 1.0 + score / math.sqrt(2)  # score = -distance
        if metric == "dot" and not (col is not None and col.space.normalized):
            raise EmbkitError(
                "metric: dot products of vectors that are not unit length have no [0, 1] relevance "
                "scale; use similarity_search_with_score, or a cosine collection"
            )
        return lambda score: (1.0 + score) / 2.0

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings | None = None,
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        path: str | Path | Collection | None = None,
        url: str | None = None,
        collection: str | None = None,
        api_key: str | None = None,
        metric: str = "cosine",
        chunk: bool = False,
        **kwargs: Any,
    ) -> "EmbkitVectorStore":
        """A store at `path` (a folder, made if it holds no collection) or on the server
        at `url` (collection=NAME), with `texts` added."""
        _no_other_options(kwargs, "from_texts")
        store = cls(path, embedding, url=url, collection=collection, api_key=api_key, metric=metric, chunk=chunk)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    def close(self) -> None:
        """Close the collection this store opened (saving its indexes; a Collection
        given stays open) or the connection to the server."""
        self._place.close(self._col)
        self._col = None
        if self._served_embeddings is not None:
            self._served_embeddings.close()
            self._served_embeddings = None

    # -- the parts ---------------------------------------------------------------------

    def _collection(self):
        """The collection (Collection or RemoteCollection), or None until the first write makes it."""
        if self._col is None:
            self._col = self._place.open()
        return self._col

    def _made(self, model: str | None, dim: int | None):
        self._col = self._place.create(model, self.metric, dim)
        return self._col

    def _embeds_itself(self, col) -> bool:
        """True when embkit embeds with its own model: no Embeddings given, or an
        EmbkitEmbeddings of the collection's model (for a new collection: any)."""
        if self._embedding is None:
            if col is not None and col.space.model == "none":
                raise EmbkitError(
                    "embedding: this collection holds vectors from no embkit model; give the "
                    "Embeddings that made them (embedding=...)"
                )
            return True
        if not isinstance(self._embedding, EmbkitEmbeddings):
            return False
        return col is None or self._embedding.model_name == col.space.model

    def _model_of_vectors(self) -> dict:
        """`model=` for vectors from an embkit model: embkit refuses another model's, naming both."""
        return {"model": self._embedding.model_name} if isinstance(self._embedding, EmbkitEmbeddings) else {}

    def _search(
        self, query: str | None, vector, k: int, filter: dict | None, kwargs: dict
    ) -> list[tuple[Document, float]]:
        """One embkit search: the text goes to embkit when it embeds itself (or for a
        keyword search), else the Embeddings' query vector."""
        options = _search_options(filter, kwargs)
        col = self._collection()
        if col is None:
            return []
        if query is not None and options.get("mode", "dense") != "keyword" and not self._embeds_itself(col):
            query, vector = None, self._embedding.embed_query(query)
            options.update(self._model_of_vectors())
        if vector is not None:
            options["vector"] = vector
        hits = col.search(query, k=k, **options)
        return [(_document(hit.id, hit.text, hit.metadata), hit.score) for hit in hits]


def _document(record_id: str, text: str | None, metadata: dict) -> Document:
    """A LangChain Document of a record: its metadata as the user gave it (embkit's own
    `parent` naming the record itself is left out; a chunk keeps its parent)."""
    metadata = {key: value for key, value in metadata.items() if not (key == "parent" and value == record_id)}
    return Document(id=record_id, page_content=text or "", metadata=metadata)


def _sequence(values: Any, field: str) -> Iterable:
    """`values` as given, unless a string or None: iterated, a string gives its characters
    (delete("doc-1") deleted documents "d", "o", "c", "-" and "1"; add_texts("hi") added two)."""
    if values is None or isinstance(values, (str, bytes, dict)):
        raise EmbkitError(f"{field}: expected a list, got {type(values).__name__}")
    return values


def _metadatas(metadatas: Any) -> list[dict]:
    """Copies of the metadatas (None: empty); one that is not a dict is an error naming it."""
    out = []
    for i, meta in enumerate(_sequence(metadatas, "metadatas")):
        if meta is not None and not isinstance(meta, dict):
            raise EmbkitError(f"metadatas[{i}]: expected an object with string keys, got {type(meta).__name__}")
        out.append(dict(meta or {}))
    return out


def _where(kwargs: dict) -> dict | None:
    """LangChain's `filter` (or embkit's name, `where`), taken out of `kwargs`."""
    filter_, where = kwargs.pop("filter", None), kwargs.pop("where", None)
    if filter_ is not None and where is not None:
        raise EmbkitError("filter: give filter= or where= (the same thing), not both")
    return filter_ if filter_ is not None else where


def _search_options(filter: dict | None, kwargs: dict) -> dict:
    """embkit's search options from LangChain's keywords; an unknown one is an error."""
    kwargs = dict(kwargs)
    if filter is not None:
        kwargs["filter"] = filter
    where = _where(kwargs)
    options = {key: kwargs.pop(key) for key in (*SEARCH_OPTIONS, "mmr") if key in kwargs}
    _no_other_options(kwargs, "search")
    return {**options, **({"where": where} if where is not None else {})}


def _no_other_options(kwargs: dict, verb: str) -> None:
    if kwargs:
        name = next(iter(kwargs))
        allowed = f" (allowed: filter, {', '.join(SEARCH_OPTIONS)})" if verb == "search" else ""
        raise EmbkitError(f"{name}: not an option of EmbkitVectorStore.{verb}{allowed}")
