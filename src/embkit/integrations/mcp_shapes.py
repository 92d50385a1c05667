"""The shapes the MCP tools take and give, as types the SDK turns into JSON schemas: the
results are the objects `embkit search --json`, `context --json` and `get --json` print
(search/hit.py, search/context.py), described field by field for the agent."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import NotRequired, TypedDict

MAX_BATCH = 1000  # documents per add, ids per get or delete (as `embkit serve` allows by default)


class HitOut(TypedDict):
    """One search result (a chunk, or with `documents` the best chunk of a document)."""

    id: str
    document: str
    score: float
    text: str | None
    metadata: dict[str, Any]
    dense_score: NotRequired[float]
    dense_rank: NotRequired[int]
    keyword_score: NotRequired[float]
    keyword_rank: NotRequired[int]
    rerank_score: NotRequired[float]
    parent: NotRequired[str]
    source: NotRequired[str]
    page: NotRequired[int]
    start: NotRequired[int]
    end: NotRequired[int]


class SearchOut(TypedDict):
    """What `embkit search --json` prints."""

    hits: list[HitOut]
    took_ms: float
    warnings: NotRequired[list[str]]


class PassageOut(TypedDict):
    """One passage of a RAG context; `n` is its citation marker [n] in `text`."""

    n: int
    id: str
    text: str
    score: float
    tokens: int
    parent: str | None
    source: str | None
    page: int | None
    start: int | None
    end: int | None
    metadata: dict[str, Any]


class ContextOut(TypedDict):
    """What `embkit context --json` prints: `text` is the numbered, cited block to paste."""

    question: str
    budget_tokens: int
    tokens: int
    passages: list[PassageOut]
    text: str
    warnings: NotRequired[list[str]]


class RecordOut(TypedDict):
    """A stored record: a document stored whole, or one chunk `ID#i` of a longer one."""

    id: str
    text: str | None
    metadata: dict[str, Any]


class GetOut(TypedDict):
    """What `embkit get --json` prints."""

    documents: list[RecordOut]


class AddOut(TypedDict):
    """What `POST /collections/NAME/add` answers: the document ids written."""

    ids: list[str]
    warnings: NotRequired[list[str]]


class DeleteOut(TypedDict):
    """What `embkit delete --json` prints: records (chunks) and documents deleted, and
    how many records the collection holds now."""

    deleted: int
    documents: int
    count: int


class NewDocument(BaseModel):
    """A document to add."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        description="The document's text; a text longer than the model reads is stored as chunks ID#0, ID#1, ..."
    )
    id: str | None = Field(
        None,
        description="Its id (a uuid4 hex is made when left out); an id that exists "
        "already rejects the batch unless `upsert`.",
    )
    metadata: dict[str, Any] | None = Field(
        None, description='Fields to filter on later with `where`, e.g. {"year": 2024, "kind": "note"}.'
    )
