"""Request bodies. Unknown fields are refused, so a misspelt option is an error rather
than silently ignored."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..search.query_audio import MAX_QUERY_SECONDS


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateCollection(Strict):
    name: str
    model: str | None = Field("minilm", description="Catalog name or registered model; null with dim for vectors only.")
    metric: Literal["cosine", "dot", "l2"] = "cosine"
    dim: int | None = None


class DocumentIn(Strict):
    id: str | None = None
    text: str | None = None
    metadata: dict[str, Any] | None = None
    vector: list[float] | None = None


class AddDocuments(Strict):
    documents: list[DocumentIn]
    model: str | None = Field(None, description="The model the given vectors came from "
                                                "(checked against the collection's).")
    chunk: bool = Field(True, description="Split a text longer than the model reads into chunks ID#0, ID#1, ... "
                                          "as `embkit add` does; false stores it whole (only its start embedded).")


class ImageIn(Strict):
    data: str = Field(description="The image file, base64-encoded (png, jpg, webp).")
    id: str | None = Field(None, description="Default: the SHA-1 of the bytes.")
    filename: str | None = None
    metadata: dict[str, Any] | None = None


class AddImages(Strict):
    images: list[ImageIn]
    upsert: bool = False


class AudioIn(Strict):
    data: str = Field(description="The sound file, base64-encoded (wav, flac, ogg, mp3).")
    id: str | None = Field(None, description="Default: the SHA-1 of the bytes.")
    filename: str | None = None
    metadata: dict[str, Any] | None = None


class AddAudio(Strict):
    audio: list[AudioIn]
    upsert: bool = False


class GetDocuments(Strict):
    ids: list[str] | None = None
    where: dict[str, Any] | None = None
    limit: int | None = Field(None, ge=1)
    include_vectors: bool = False


class DeleteDocuments(Strict):
    ids: list[str] | None = None
    where: dict[str, Any] | None = None


class Search(Strict):
    """The body of a search: the fields of search.request.SearchRequest (types only
    here; the values are checked once, by SearchRequest.check)."""

    query: str | None = None
    vector: list[float] | None = None
    like: str | None = Field(None, description="Id of a stored document: more like this.")
    k: int = 10
    where: dict[str, Any] | None = None
    mode: str = "dense"
    rrf_k: int | None = None
    alpha: float | None = None
    mmr: float | None = None
    rerank: int | None = Field(None, description="Rerank the top N with the server's cross-encoder (--reranker).")
    documents: bool = Field(False, description="The best chunk of each document instead of chunks.")
    by_document: bool | None = Field(None, description="Deprecated: the old name of `documents`.")
    ef: int | None = None
    nprobe: int | None = None
    rescore: int | None = None
    dims: int | None = None
    image: str | None = Field(None, description="A query image, base64-encoded (png, jpg, webp).")
    audio: str | None = Field(None, description="A query clip, base64-encoded (wav, flac, ogg, mp3; at most "
                                                f"{MAX_QUERY_SECONDS} s): sounds like it, in an audio space.")
    space: str | None = Field(None, description="Vector space to search (default: the collection's).")
    model: str | None = Field(None, description="The model `vector` came from, checked against the space's.")


class ContextRequest(Strict):
    """Types only: the values are checked by the search they run (SearchRequest.check)."""

    question: str
    budget_tokens: int = 1500
    k: int = 20
    where: dict[str, Any] | None = None
    mode: str | None = None
    rerank: int | None = None


class Embed(Strict):
    texts: list[str]
    role: str | None = Field(None, description="query or document (or passage): the model's prompt for that role "
                                               "goes before each text, as search and add do; null: the texts as "
                                               "given. Checked by the library, as in every door.")


class Similarity(Strict):
    a: list[str]
    b: list[str]
    query: bool = Field(False, description="a holds queries and b documents, each with its role's prompt (as a "
                                           "search compares them); false: all as given.")


UNIT = Field("document", description="What to count: document (one vector per document, the mean of its "
                                     "chunks') or chunk. Checked by the library, as in every door.")


class ClusterRequest(Strict):
    k: int | Literal["auto"] = "auto"
    method: Literal["kmeans", "hdbscan"] = "kmeans"
    where: dict[str, Any] | None = None
    field: str = "cluster"
    seed: int = 0
    min_cluster_size: int | None = None
    unit: str = UNIT


class OutliersRequest(Strict):
    top: int = 20
    method: str = "knn"
    k: int = 10
    where: dict[str, Any] | None = None
    unit: str = UNIT


class DuplicatesRequest(Strict):
    threshold: float = 0.95
    k: int = 10
    where: dict[str, Any] | None = None
    unit: str = UNIT


class DedupeRequest(DuplicatesRequest):
    keep: str = "first"
    delete: bool = Field(False, description="Delete all but one of each group (whole documents with unit "
                                            "document); false is a dry run.")
