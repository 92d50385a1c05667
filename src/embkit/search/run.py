"""A checked SearchRequest run against a collection's parts: the hits and the warnings
(a filter naming a field no document has) that each door reports its own way; and the
RAG context built from such a search."""

from dataclasses import dataclass, field

from .. import validate
from .context import Context, build_context
from .hit import Hit
from .pipeline import Plan, retrieve
from .plain import plain_found
from .query_vector import query_vector
from .request import SearchRequest
from .sources import DatabaseSources, SearchParts, StoreSources
from .token_budget import count_tokens


@dataclass
class Found:
    """A search's hits, best first, and what its filter named that no document has;
    on PostgreSQL also the spaces a reembed replaced, as the search statement read them
    (None: not read), so the collection follows another process's switch for free."""

    hits: list[Hit]
    warnings: list[str] = field(default_factory=list)
    superseded: dict[str, str] | None = None


def run_search(req: SearchRequest, parts: SearchParts) -> Found:
    """The hits of `req`, already checked against `parts.space` (SearchRequest.check)."""
    if DatabaseSources.serves(parts, req):  # PostgreSQL: one round trip, the filter as SQL
        vector, exclude = query_vector(req, parts.store, parts.space, parts.encoder_for)
        sources = DatabaseSources(parts, req)
        return Found(retrieve(req, Plan(vector, None, exclude), sources), sources.warnings, sources.superseded)
    if req.plain():  # a vector, k, index knobs: the common call, without the general stages
        hits, superseded = plain_found(req, parts)
        return Found(hits, [], superseded)
    notes = parts.store.filter_warnings(req.where) if req.where is not None else []
    vector, exclude = query_vector(req, parts.store, parts.space, parts.encoder_for)
    allow = parts.store.rowids(req.where) if req.where is not None else None
    return Found(retrieve(req, Plan(vector, allow, exclude), StoreSources(parts, req)), notes)


def run_context(question: str, budget_tokens: int, options: dict, parts: SearchParts) -> tuple[Context, Found]:
    """Passages for an LLM prompt: the hits of a search for `question` with `options`
    (SearchRequest fields; mode hybrid by default, keyword for a space without a model),
    deduplicated, numbered and cited within `budget_tokens`; and the search itself."""
    question = validate.check_query(question, "question")
    mode = options.get("mode") or ("hybrid" if parts.space.model != "none" else "keyword")
    req = SearchRequest(question, **{**options, "mode": mode}).check(parts.space)
    found = run_search(req, parts)
    return build_context(question, found.hits, budget_tokens, count_tokens), found
