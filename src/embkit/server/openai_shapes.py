"""The bodies of the OpenAI-compatible routes (/v1/embeddings, /v1/models) and of
/v1/rerank in the shape Cohere and Jina use, and the error shape of every /v1 route:
`{"error": {"message", "type", "param", "code"}}` with OpenAI's status codes."""

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..validate import printable
from .strict_values import Flag, OptionalInt

TRUNCATED_HEADER = "X-Embkit-Truncated"  # indexes of the inputs cut at the model's window: "0,3"
OPENAI_PREFIX = "/v1/"


class EmbeddingsRequest(BaseModel):
    """OpenAI's embeddings request. Unknown fields are refused (as OpenAI does)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        description="A catalog model (`minilm`), a registered trained model, or the name of a "
        "served collection (meaning its model). See GET /v1/models."
    )
    input: str | list[str] | list[int] | list[list[int]] = Field(
        description="A text or a list of texts. Token-id arrays are refused with a 400."
    )
    dimensions: OptionalInt = Field(
        None,
        description="Keep the first N dimensions (Matryoshka) and "
        "re-normalize to unit length; 1 to the model's dimension.",
    )
    encoding_format: Literal["float", "base64"] = Field(
        "float", description="base64: each vector as the base64 of its little-endian float32 bytes."
    )
    user: str | None = Field(None, description="Accepted and ignored.")
    input_type: str | None = Field(
        None,
        description="query or document (or passage): the model's prompt for that role goes before each text, "
        "as embkit's search and add do (for models with prompts, such as E5); null: the texts as given.",
    )


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class Usage(BaseModel):
    prompt_tokens: int = Field(
        description="Tokens the model read (its own tokenizer, special tokens included, after truncation)."
    )
    total_tokens: int


class EmbeddingsResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: Usage


class ModelCard(BaseModel):
    """OpenAI's model object, with what embkit knows of it besides."""

    model_config = ConfigDict(extra="allow")

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "embkit"
    kind: Literal["catalog", "registered", "collection", "reranker"]
    dim: int | None = None
    model: str | None = Field(None, description="For a collection: the model its vectors come from.")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class RerankDocument(BaseModel):
    """A document as an object (Jina, Cohere): its `text`, and other fields returned as given."""

    model_config = ConfigDict(extra="allow")

    text: str


class RerankRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(
        None,
        description="The server's reranker (its folder's name, see GET /v1/models); omit it to use the one there is.",
    )
    query: str
    documents: list[str | RerankDocument] = Field(min_length=1)
    top_n: OptionalInt = Field(None, ge=1, description="Return only the N best (default: all).")
    return_documents: Flag = Field(False, description="Include each document in its result.")


class RerankResult(BaseModel):
    index: int
    relevance_score: float
    document: dict[str, Any] | None = None


class RerankResponse(BaseModel):
    model: str
    results: list[RerankResult] = Field(description="Best first (ties in the order given).")


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIError(BaseModel):
    error: OpenAIErrorDetail


_ERROR = {"model": OpenAIError}
ERROR_RESPONSES = {
    400: {
        **_ERROR,
        "description": "Invalid request (type invalid_request_error): a field, a limit or a model "
        "that cannot embed text; `param` names the field.",
    },
    401: {**_ERROR, "description": "Missing or invalid API key (code invalid_api_key)."},
    403: {**_ERROR, "description": "The key's scope or collections do not cover this model (permission_error)."},
    404: {**_ERROR, "description": "No such model (code model_not_found)."},
    "4XX": {**_ERROR, "description": "Another client error, in the same shape."},
}

_TYPES = {401: "invalid_request_error", 403: "permission_error", 404: "invalid_request_error"}
_CODES = {401: "invalid_api_key", 422: None, 400: None}
_FIELD = re.compile(r"^([A-Za-z_][A-Za-z0-9_.\[\]]*): ")


def is_openai_path(path: str) -> bool:
    return path.startswith(OPENAI_PREFIX)


def openai_error(status: int, code: str | None, message: str) -> tuple[int, dict]:
    """(status, body) in OpenAI's shape for an error embkit raised with (status, code).
    A 422 (a body that fails validation or a limit) is OpenAI's 400; `param` is the
    field the message starts with ("dimensions: ...")."""
    status = 400 if status == 422 else status
    kind = "server_error" if status >= 500 else _TYPES.get(status, "invalid_request_error")
    code = _CODES.get(status, code) if code not in ("model_not_found", "limit_exceeded") else code
    field = _FIELD.match(message)
    param = field.group(1) if field and field.group(1) not in ("authorization", "scope") else None
    return status, {"error": {"message": printable(message), "type": kind, "param": param, "code": code}}
