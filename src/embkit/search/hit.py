"""The result type of every search."""

from typing import Any, NamedTuple


class Hit(NamedTuple):
    """One result. Later stages add fields with defaults after these; never reorder.

    `dense_*` / `keyword_*`: each retriever's score and 1-based rank for this hit (None
    when that retriever did not return it, or did not run). `rerank_score`: the
    cross-encoder's score when the results were reranked. For a chunk of a longer
    document: `parent` (the document's id), `source` (file), `page` (1-based, pdf),
    `start` / `end` (character offsets of the chunk in the document's text)."""

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

    def to_dict(self) -> dict:
        """The first four fields always; the later ones only where they are set."""
        return {key: value for i, (key, value) in enumerate(self._asdict().items()) if i < 4 or value is not None}
