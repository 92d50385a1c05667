"""Search in every mode, RAG context, embeddings and similarity: each one Collection
call under the collection's read lock."""

import time

from fastapi import APIRouter, Depends, Request, Response

from ..errors import EmbkitError
from ..search.hit import hits_payload
from ..search.request import SearchRequest, renamed
from .auth import requires
from .encoding import encode
from .params_unread import refuse_unread
from .routes_images import decode_image
from .schemas import ContextRequest, Embed, Search, Similarity
from .state import hosted, limits
from .strict_values import is_int
from .uploads import decode_base64

router = APIRouter(tags=["search"], dependencies=[Depends(refuse_unread)])


# For a sync route FastAPI validates and encodes a returned dict in one more trip to the
# thread pool (~0.1 ms of CPU a request). Encoding it here, in the route's own worker
# thread, the way FastAPI does for `-> dict` (pydantic's dump_json), gives the same bytes
# and headers without that trip; `response_model=dict` keeps the OpenAPI schema as it was.
# encoding.py also serves a stored record that cannot be encoded as it is with a marker.
def encode_hits(hits, started: float, warnings: list[str] | None = None) -> bytes:
    """The search answer in the shape the CLI's --json prints too (search/hit.py)."""
    return encode(hits_payload(hits, (time.perf_counter() - started) * 1000, warnings))


def with_warnings(content: dict, warnings: list[str] | None) -> dict:
    """`content` with a "warnings" list (e.g. a filter naming a field no document has)
    when there is something to say; the same lines the CLI prints and Python warns."""
    return {**content, "warnings": warnings} if warnings else content


@router.post("/collections/{name}/search", response_model=dict)
def search(name: str, body: Search, request: Request, _=Depends(requires("read"))) -> Response:
    """Top-k by meaning (dense), by words (keyword, BM25) or both (hybrid), with
    filters, reranking, MMR, or more like a stored document (`like`)."""
    lim = limits(request)
    lim.k(body.k)
    lim.text(body.query, "query")
    if is_int(body.rerank):  # another type: the library says so
        lim.k(body.rerank, "rerank")
    # by_document: a warning; a field the library checks may hold another type (Checked): no serializer warning
    options, notes = renamed(body.model_dump(exclude_unset=True, exclude_none=True, warnings=False))
    options["reranker"] = _reranker(request, body.rerank)
    if "image" in options:
        options["image"] = decode_image(options["image"])
    if "audio" in options:  # the file's bytes; the space's audio tower decodes them
        options["audio"] = decode_base64(options["audio"], "audio")
    search_request = SearchRequest(**options)
    h = hosted(request, name)
    started = time.perf_counter()
    with h.lock.reading():
        found = h.collection.find(search_request)  # checked there, once; the filter's warnings come back
    return Response(encode_hits(found.hits, started, notes + found.warnings), media_type="application/json")


@router.post("/collections/{name}/context", response_model=dict)
def context(name: str, body: ContextRequest, request: Request, _=Depends(requires("read"))) -> Response:
    """Numbered, cited passages for an LLM prompt, within a token budget."""
    lim = limits(request)
    lim.k(body.k)
    lim.text(body.question, "question")
    h = hosted(request, name)
    with h.lock.reading():
        ctx, notes = h.collection.find_context(body.question, body.budget_tokens, k=body.k, where=body.where,
                                               mode=body.mode, rerank=body.rerank,
                                               reranker=_reranker(request, body.rerank))
    return Response(encode(with_warnings({**ctx.to_dict(), "text": ctx.text}, notes)), media_type="application/json")


@router.post("/collections/{name}/embed")
def embed(name: str, body: Embed, request: Request, _=Depends(requires("read"))) -> dict:
    """Vectors for texts from the collection's model (as the collection stores them)."""
    lim = limits(request)
    lim.batch(len(body.texts), "texts")
    lim.texts(body.texts, "texts")
    h = hosted(request, name)
    vectors = h.collection.embed(body.texts, role=body.role)
    return {"model": h.collection.space.model, "dim": int(vectors.shape[1]) if len(vectors) else h.collection.space.dim,
            "vectors": vectors.tolist()}


@router.post("/collections/{name}/similarity")
def similarity(name: str, body: Similarity, request: Request, _=Depends(requires("read"))) -> dict:
    """Scores of every text in `a` against every text in `b`, in the collection's metric."""
    lim = limits(request)
    lim.batch(len(body.a) + len(body.b), "a + b")
    lim.texts(body.a, "a")
    lim.texts(body.b, "b")
    h = hosted(request, name)
    return {"metric": h.collection.space.metric, "scores": h.collection.similarity(body.a, body.b, body.query).tolist()}


def _reranker(request: Request, rerank: int | None) -> str | None:
    if rerank is None:
        return None
    folder = request.app.state.reranker
    if folder is None:
        raise EmbkitError("rerank: this server has no reranker (start it with `embkit serve --reranker DIR`)")
    return str(folder)
