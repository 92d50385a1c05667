"""OpenAI-compatible routes, so that OpenAI clients (and LangChain, LlamaIndex, LiteLLM
through them) can use embkit's models: POST /v1/embeddings, GET /v1/models and
/v1/models/{id}; and POST /v1/rerank in the shape Cohere and Jina use, served by the
server's cross-encoder (`--reranker`). Every route needs a key of scope read; errors
come in OpenAI's shape (errors.py does that for every /v1 path)."""

import base64
import json

import numpy as np
from fastapi import APIRouter, Depends, Request, Response

from ..encoders.base import l2_normalize
from ..encoders.prompts import check_role
from ..errors import EmbkitError
from ..search.rerank import load_reranker, rerank_scores
from ..validate import check_query, check_texts
from .auth import requires
from .keys import Key
from .openai_models import card, cards, for_embedding, not_found, reranker_name
from .openai_shapes import (
    ERROR_RESPONSES,
    TRUNCATED_HEADER,
    EmbeddingsRequest,
    EmbeddingsResponse,
    ModelCard,
    ModelList,
    RerankRequest,
    RerankResponse,
)
from .params_unread import refuse_unread
from .state import limits

router = APIRouter(prefix="/v1", tags=["openai"], responses=ERROR_RESPONSES, dependencies=[Depends(refuse_unread)])


@router.post("/embeddings", response_model=EmbeddingsResponse)
def embeddings(body: EmbeddingsRequest, request: Request, key: Key | None = Depends(requires("read"))) -> Response:
    """Vectors for `input` from `model`, as `embkit embed` (a model name) or the
    collection's /embed (a collection name) gives them; `input_type` "query" or
    "document" ("passage") puts the model's prompt for that role before each text (as
    search and add do), none embeds the texts as given. A text longer than the model
    reads is cut where the model cuts it; the header `X-Embkit-Truncated` lists the
    indexes of such inputs ("0,3"), and is absent when none was cut."""
    texts = _texts(body.input)
    lim = limits(request)
    lim.batch(len(texts), "input")
    lim.texts(texts, "input")
    texts = check_texts(texts, "input")
    role = check_role(body.input_type, "input_type")
    model = for_embedding(request, body.model, key)
    if body.dimensions is not None and not 1 <= body.dimensions <= model.dim:
        raise EmbkitError(
            f"dimensions: must be from 1 to {model.dim} (the dimension of {body.model!r}), got {body.dimensions}"
        )
    vectors = model.embed(texts, role)
    if body.dimensions is not None:  # Matryoshka: the first N dimensions, at unit length again
        vectors = l2_normalize(vectors[:, : body.dimensions])
    counted = model.counter.count(model.read(texts, role))  # the prompt is read (and counted) too
    tokens = sum(counted.read)
    content = {
        "object": "list",
        "model": body.model,
        "data": [
            {"object": "embedding", "index": i, "embedding": _formatted(v, body.encoding_format)}
            for i, v in enumerate(vectors)
        ],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    headers = {TRUNCATED_HEADER: ",".join(map(str, counted.truncated))} if counted.truncated else None
    return Response(json.dumps(content), media_type="application/json", headers=headers)


def _texts(given) -> list[str]:
    """The input as a list of texts; token ids are refused (embkit tokenizes itself)."""
    if isinstance(given, str):
        return [given]
    if not given:
        raise EmbkitError("input: must hold at least one text")
    if not all(isinstance(item, str) for item in given):
        raise EmbkitError("input: token-id arrays are not supported; send a string or a list of strings")
    return list(given)


def _formatted(vector: np.ndarray, encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":  # as OpenAI: the little-endian float32 bytes
        return base64.b64encode(np.ascontiguousarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return vector.tolist()


@router.get("/models", response_model=ModelList, response_model_exclude_none=True)
def list_models(request: Request, key: Key | None = Depends(requires("read"))) -> dict:
    """The models this key may name: installed catalog models, registered trained
    models, the served collections it covers (each with its model) and the reranker."""
    return {"object": "list", "data": [c.model_dump(exclude_none=True) for c in cards(request, key)]}


@router.get("/models/{model_id}", response_model=ModelCard, response_model_exclude_none=True)
def retrieve_model(model_id: str, request: Request, key: Key | None = Depends(requires("read"))) -> dict:
    """One model, as listed by GET /v1/models."""
    return card(request, model_id, key).model_dump(exclude_none=True)


@router.post("/rerank", response_model=RerankResponse, response_model_exclude_none=True)
def rerank(body: RerankRequest, request: Request, _=Depends(requires("read"))) -> dict:
    """The documents scored against the query by the server's cross-encoder, best
    first: the scores a search with `rerank` gives the same pairs."""
    name = reranker_name(request)
    if name is None:
        raise not_found("model: this server has no reranker (start it with `embkit serve --reranker DIR`)")
    if body.model is not None and body.model != name:
        raise not_found(f"model: this server's reranker is {name!r}, not {body.model!r}")
    texts = [doc if isinstance(doc, str) else doc.text for doc in body.documents]
    lim = limits(request)
    lim.text(body.query, "query")
    lim.batch(len(texts), "documents")
    lim.texts(texts, "documents")
    query, texts = check_query(body.query), check_texts(texts, "documents")
    scores = rerank_scores(load_reranker(request.app.state.reranker), query, texts)
    order = sorted(range(len(texts)), key=lambda i: -float(scores[i]))  # stable: ties keep the order given
    results = []
    for i in order[: body.top_n]:
        result = {"index": i, "relevance_score": float(scores[i])}
        if body.return_documents:
            doc = body.documents[i]
            result["document"] = {"text": doc} if isinstance(doc, str) else doc.model_dump()
        results.append(result)
    return {"model": name, "results": results}
