"""Request bodies. Unknown fields are refused, so a misspelt option is an error rather
than silently ignored."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..search.query_audio import MAX_QUERY_SECONDS
from .strict_values import Checked, Flag, Int, K, Numbers, OptionalFlag, OptionalInt


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateCollection(Strict):
    name: str
    model: str | None = Field("minilm", description="Catalog name or registered model; null with dim for vectors only.")
    metric: Literal["cosine", "dot", "l2"] = "cosine"
    dim: OptionalInt = None


class DocumentIn(Strict):
    id: str | None = None
    text: str | None = None
    metadata: dict[str, Any] | None = None
    vector: Numbers = None


class AddDocuments(Strict):
    documents: list[DocumentIn]
    model: str | None = Field(None, description="The model the given vectors came from "
                                                "(checked against the collection's).")
    chunk: Flag = Field(True, description="Split a text longer than the model reads into chunks ID#0, ID#1, ... "
                                          "as `embkit add` does; false stores it whole (only its start embedded).")


class ImageIn(Strict):
    data: str = Field(description="The image file, base64-encoded (png, jpg, webp).")
    id: str | None = Field(None, description="Default: the SHA-1 of the bytes.")
    filename: str | None = None
    metadata: dict[str, Any] | None = None


class AddImages(Strict):
    images: list[ImageIn]
    upsert: Flag = False


class AudioIn(Strict):
    data: str = Field(description="The sound file, base64-encoded (wav, flac, ogg, mp3).")
    id: str | None = Field(None, description="Default: the SHA-1 of the bytes.")
    filename: str | None = None
    metadata: dict[str, Any] | None = None


class AddAudio(Strict):
    audio: list[AudioIn]
    upsert: Flag = False


class GetDocuments(Strict):
    ids: list[str] | None = None
    where: dict[str, Any] | None = None
    limit: OptionalInt = Field(None, ge=1)
    include_vectors: Flag = False


class DeleteDocuments(Strict):
    ids: list[str] | None = None
    where: dict[str, Any] | None = None


class Search(Strict):
    """The body of a search: the fields of search.request.SearchRequest (types only
    here; the values are checked once, by SearchRequest.check)."""

    query: str | None = None
    vector: Numbers = None
    like: str | None = Field(None, description="Id of a stored document: more like this.")
    k: K = 10
    where: dict[str, Any] | None = None
    mode: str = "dense"
    rrf_k: Annotated[int | None, Checked] = None
    alpha: Annotated[float | None, Checked] = None
    mmr: Annotated[float | None, Checked] = None
    rerank: Annotated[int | None, Checked] = Field(None, description="Rerank the top N with the server's "
                                                                     "cross-encoder (--reranker).")
    documents: Flag = Field(False, description="The best chunk of each document instead of chunks.")
    by_document: OptionalFlag = Field(None, description="Deprecated: the old name of `documents`.")
    ef: Annotated[int | None, Checked] = None
    nprobe: Annotated[int | None, Checked] = None
    rescore: Annotated[int | None, Checked] = None
    dims: Annotated[int | None, Checked] = None
    image: str | None = Field(None, description="A query image, base64-encoded (png, jpg, webp).")
    audio: str | None = Field(None, description="A query clip, base64-encoded (wav, flac, ogg, mp3; at most "
                                                f"{MAX_QUERY_SECONDS} s): sounds like it, in an audio space.")
    space: str | None = Field(None, description="Vector space to search (default: the collection's).")
    model: str | None = Field(None, description="The model `vector` came from, checked against the space's.")


class ContextRequest(Strict):
    """Types only: the values are checked by the search they run (SearchRequest.check)."""

    question: str
    budget_tokens: Int = 1500
    k: K = 20
    where: dict[str, Any] | None = None
    mode: str | None = None
    rerank: OptionalInt = None


class Embed(Strict):
    texts: list[str]
    role: str | None = Field(None, description="query or document (or passage): the model's prompt for that role "
                                               "goes before each text, as search and add do; null: the texts as "
                                               "given. Checked by the library, as in every door.")


class Similarity(Strict):
    a: list[str]
    b: list[str]
    query: Flag = Field(False, description="a holds queries and b documents, each with its role's prompt (as a "
                                           "search compares them); false: all as given.")


UNIT = Field("document", description="What to count: document (one vector per document, the mean of its "
                                     "chunks') or chunk. Checked by the library, as in every door.")


class ClusterRequest(Strict):
    k: Annotated[int | Literal["auto"], Checked] = "auto"  # the library checks these, as in every door
    method: Literal["kmeans", "hdbscan"] = "kmeans"
    where: dict[str, Any] | None = None
    field: str = "cluster"
    seed: Annotated[int, Checked] = 0
    min_cluster_size: Annotated[int | None, Checked] = None
    unit: str = UNIT


class OutliersRequest(Strict):
    top: Annotated[int, Checked] = 20  # the library checks these, as in every door
    method: str = "knn"
    k: Annotated[int, Checked] = 10
    where: dict[str, Any] | None = None
    unit: str = UNIT


class DuplicatesRequest(Strict):
    threshold: Annotated[float, Checked] = 0.95  # the library checks these, as in every door
    k: Annotated[int, Checked] = 10
    where: dict[str, Any] | None = None
    unit: str = UNIT


class DedupeRequest(DuplicatesRequest):
    keep: str = "first"
    delete: Flag = Field(False, description="Delete all but one of each group (whole documents with unit "
                                            "document); false is a dry run.")
