"""The result type of every search."""

from typing import Any, NamedTuple

from ..ingest.records import document_of


class Hit(NamedTuple):
    """One result. Later stages add fields with defaults after these; never reorder.

    `dense_*` / `keyword_*`: each retriever's score and 1-based rank for this hit (None
    when that retriever did not return it, or did not run). `rerank_score`: the
    cross-encoder's score when the results were reranked. For a chunk of a longer
    document: `parent` (the document's id), `source` (file), `page` (1-based, pdf),
    `start` / `end` (character offsets of the chunk in the document's text).
    `document`: the id of the document the hit belongs to (its parent, else its own)."""

    id: str
    score: float
    text: str | None
    metadata: dict[str, Any]
    dense_score: float | None = None
    dense_rank: int | None = None
    keyword_score: float | None = None
    keyword_rank: int | None = None
    rerank_score: float | None = None
    parent: str | None = None
    source: str | None = None
    page: int | None = None
    start: int | None = None
    end: int | None = None

    @property
    def document(self) -> str:
        """The document this hit belongs to: a chunk's `parent`, else the hit itself."""
        return document_of(self.id, self.metadata)

    def to_dict(self) -> dict:
        """The hit as every door prints it (CLI --json, HTTP): the first four fields and
        `document` always; the later ones only where they are set."""
        out = {"id": self.id, "document": self.document}
        out.update((key, value) for i, (key, value) in enumerate(self._asdict().items()) if i < 4 or value is not None)
        return out


def hits_payload(hits: list[Hit], took_ms: float, warnings: list[str] | None = None) -> dict:
    """The answer to a search as the CLI (--json) and HTTP give it: the hits, how long
    the search took, and "warnings" only when there is something to say."""
    out = {"hits": [hit.to_dict() for hit in hits], "took_ms": round(took_ms, 2)}
    return {**out, "warnings": list(warnings)} if warnings else out
